// JSON -> YAML through yaml-cpp's emitter.
#include "manifest/yaml_emit.h"

#include <yaml-cpp/yaml.h>

namespace irsa::manifest {
namespace {

constexpr std::size_t kMaxImplicitKeyBytes = 200;

// Would a plain (unquoted) scalar with this text read back as something other
// than this string under YAML 1.1 or 1.2? Then it must be quoted. A plain
// "<<" key is a merge (found by fuzz/).
bool needs_quotes(const std::string& text) {
  if (text.empty()) return true;
  static const char* const kSpecial[] = {
      "null", "Null", "NULL", "~",  "true", "True", "TRUE",  "false", "False", "FALSE", "yes",
      "Yes",  "YES",  "no",   "No", "NO",   "on",   "On",    "ON",    "off",   "Off",   "OFF",
      "y",    "Y",    "n",    "N",  ".inf", ".nan", "-.inf", "+.inf", "<<"};
  for (const char* special : kSpecial) {
    if (text == special) return true;
  }
  // Control characters (a trailing '\r' was read back as a line break; found
  // by fuzz/): double quotes escape them.
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) return true;
  }
  char first = text.front();
  if ((first >= '0' && first <= '9') || first == '-' || first == '+' || first == '.') return true;
  return false;
}

void emit(YAML::Emitter& out, const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [key, item] : value.items()) {
        out << YAML::Key;
        // YAML reads an implicit key of at most 1024 characters; escapes can
        // make a key up to 4 times longer written, so a long one is written
        // as an explicit "? key" (found by fuzz/). The setting sticks, so
        // every key sets it.
        out << (key.size() > kMaxImplicitKeyBytes ? YAML::LongKey : YAML::Auto);
        if (needs_quotes(key)) out << YAML::DoubleQuoted;
        out << key << YAML::Value;
        emit(out, item);
      }
      out << YAML::EndMap;
      break;
    case nlohmann::json::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& item : value) emit(out, item);
      out << YAML::EndSeq;
      break;
    case nlohmann::json::value_t::string: {
      const auto& text = value.get_ref<const std::string&>();
      if (needs_quotes(text)) out << YAML::DoubleQuoted;
      out << text;
      break;
    }
    case nlohmann::json::value_t::null:
      out << YAML::Null;
      break;
    default:
      out << value.dump();  // numbers and booleans print as JSON does
      break;
  }
}

}  // namespace

std::string to_yaml(const nlohmann::json& value) {
  YAML::Emitter out;
  emit(out, value);
  std::string text = out.c_str();
  if (text.empty() || text.back() != '\n') text += '\n';
  return text;
}

}  // namespace irsa::manifest
