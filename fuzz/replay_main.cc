// Replays files through a fuzz target's LLVMFuzzerTestOneInput without
// libFuzzer: the same target built by the normal compiler, so that `make
// test` (and `make test-asan`) run every seed and every regression file.
//
//   fuzz_<target> FILE|DIR...   every regular file, directories recursively
//
// Exit status 0 when every file ran; a violated property aborts (non-zero).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

// The target's entry point (libFuzzer's signature).
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

// The files named by the arguments, in a stable order.
std::vector<fs::path> collect(int argc, char** argv, bool& missing) {
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    fs::path path(argv[i]);
    std::error_code error;
    if (fs::is_directory(path, error)) {
      std::vector<fs::path> found;
      for (fs::recursive_directory_iterator it(path, error), end; !error && it != end;
           it.increment(error)) {
        if (it->is_regular_file(error)) found.push_back(it->path());
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(path, error)) {
      files.push_back(path);
    } else {
      std::fprintf(stderr, "replay: %s: not a file or directory\n", argv[i]);
      missing = true;
    }
  }
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
    return 2;
  }
  bool missing = false;
  std::vector<fs::path> files = collect(argc, argv, missing);
  std::size_t bytes = 0;
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      std::fprintf(stderr, "replay: cannot read %s\n", file.c_str());
      return 2;
    }
    if (std::getenv("FUZZ_REPLAY_VERBOSE") != nullptr) {
      std::fprintf(stderr, "replay: %s (%zu bytes)\n", file.c_str(), data.size());
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()), data.size());
    bytes += data.size();
  }
  std::printf("replayed %zu files (%zu bytes)\n", files.size(), bytes);
  if (files.empty()) {
    std::fprintf(stderr, "replay: no input files\n");
    return 2;
  }
  return missing ? 2 : 0;
}
