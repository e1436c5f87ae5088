// The command line (cli::parse_flags, with and without a subcommand's
// `extra` list, then validate_config) and Go durations. The input is the
// argument list, one argument per NUL-separated piece; "irsa-webhook" is not
// part of it.
//
// Properties: never a crash or an exception; an unknown flag is an error
// unless `extra` takes it; a parsed config either validates or says why in
// a non-empty message; a duration is finite when it parses; the token
// lifetime default is never under the 600 s minimum.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cli/config.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = irsa::fuzz::as_text(data, size);
  std::vector<std::string> args;
  std::size_t start = 0;
  while (start <= text.size() && args.size() < 256) {
    std::size_t end = text.find('\0', start);
    if (end == std::string_view::npos) end = text.size();
    args.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }

  auto config = irsa::cli::parse_flags(args);
  std::vector<std::string> extra;
  auto lenient = irsa::cli::parse_flags(args, &extra);
  if (config) {
    FUZZ_CHECK(lenient.ok(), "extra makes a valid command line fail: " + lenient.error());
    FUZZ_CHECK(extra.empty(), "extra took arguments from a valid command line");
    FUZZ_CHECK(config->identity.token_expiration >= irsa::identity::kMinTokenExpiration,
               std::to_string(config->identity.token_expiration));
    auto valid = irsa::cli::validate_config(*config);
    if (!valid) FUZZ_CHECK(!valid.error().empty(), "empty validation error");
    auto mutation = irsa::cli::validate_mutation_config(*config);
    if (!mutation) FUZZ_CHECK(!mutation.error().empty(), "empty validation error");
  } else {
    FUZZ_CHECK(!config.error().empty(), "empty parse error");
  }
  for (const auto& arg : args) {
    if (arg.size() > 64) continue;
    if (auto seconds = irsa::cli::parse_go_duration(arg)) {
      FUZZ_CHECK(std::isfinite(*seconds), arg);
    }
  }
  return 0;
}
