// The command line (cli::parse_flags, alone and with a subcommand's own
// flags read in the same pass, then validate_config) and Go durations. The input is the
// argument list, one argument per NUL-separated piece; "irsa-webhook" is not
// part of it.
//
// Properties: never a crash or an exception; an unknown flag is an error;
// a command line valid without own flags stays valid with them and gives
// them nothing; a parsed config either validates or says why in
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
  const irsa::cli::CommandFlags own = {{{"--pod"}}, {{"--output", "-o"}}, {{"--strict"}, false}};
  irsa::cli::CommandLine own_values;
  auto with_own = irsa::cli::parse_flags(args, own, &own_values);
  if (config) {
    FUZZ_CHECK(with_own.ok(), "own flags make a valid command line fail: " + with_own.error());
    FUZZ_CHECK(own_values.values.empty(), "own flags took arguments from a serve command line");
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
