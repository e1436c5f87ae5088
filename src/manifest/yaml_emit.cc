// JSON -> YAML through yaml-cpp's emitter.
#include "manifest/yaml_emit.h"

#include <yaml-cpp/yaml.h>

namespace irsa::manifest {
namespace {

// Would a plain (unquoted) scalar with this text read back as something other
// than this string under YAML 1.1 or 1.2? Then it must be quoted.
bool needs_quotes(const std::string& text) {
  if (text.empty()) return true;
  static const char* const kSpecial[] = {"null", "Null", "NULL", "~", "true", "True", "TRUE",
                                         "false", "False", "FALSE", "yes", "Yes", "YES", "no",
                                         "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
                                         "y", "Y", "n", "N", ".inf", ".nan", "-.inf", "+.inf"};
  for (const char* special : kSpecial) {
    if (text == special) return true;
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
