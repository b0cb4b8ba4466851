#include "render/merge.h"

#include <algorithm>
#include <map>

namespace svcd::render {
namespace {

Cause MakeCause(std::string field, std::string message) {
  Cause cause;
  cause.field = std::move(field);
  cause.message = std::move(message);
  return cause;
}

constexpr std::string_view kReservedEnvPrefix = "SVCD_";

bool IsAsciiAlpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

std::string Quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

// Appends ` in OBJECT` when the list belongs to another object than the deploy.
std::string InObject(const std::string& object) {
  return object.empty() ? std::string() : " in " + object;
}

std::string ItemPath(const std::string& field, size_t index) {
  return field + "[" + std::to_string(index) + "]";
}

// Checks one env of a layer and appends a Cause for each problem.
void ValidateEnv(const EnvLayer& layer, size_t index, std::vector<Cause>& causes) {
  const api::EnvVar& env = layer.envs[index];
  const std::string path = ItemPath(layer.field, index);
  if (!IsValidEnvName(env.name)) {
    causes.push_back(
        MakeCause(path + ".name", "invalid env name " + Quoted(env.name) + InObject(layer.object) +
                                      ": use letters, digits and '_', not starting with a digit"));
  } else if (env.name.starts_with(kReservedEnvPrefix)) {
    causes.push_back(MakeCause(path + ".name", "env name " + Quoted(env.name) +
                                                   InObject(layer.object) +
                                                   " uses the reserved prefix SVCD_: rename it"));
  }
  if (env.value.find('\0') != std::string::npos) {
    causes.push_back(
        MakeCause(path + ".value", "value of env " + Quoted(env.name) + InObject(layer.object) +
                                       " contains a NUL byte, which no process can receive"));
  }
}

// Checks the shape, name and value of one arg and appends a Cause for each
// problem. Returns false when the arg must not be merged.
bool ValidateArg(const ArgLayer& layer, size_t index, std::vector<Cause>& causes) {
  const api::Arg& arg = layer.args[index];
  const std::string path = ItemPath(layer.field, index);
  const size_t before = causes.size();

  if (arg.name.has_value()) {
    if (!IsValidArgName(*arg.name)) {
      causes.push_back(MakeCause(path + ".name",
                                 "invalid arg name " + Quoted(*arg.name) + InObject(layer.object) +
                                     ": use up to two leading '-', then a letter or "
                                     "digit, then letters, digits, '.', '_' or '-'"));
    }
    if (arg.value.has_value() == arg.flag.has_value()) {
      causes.push_back(MakeCause(path, "arg " + Quoted(*arg.name) + InObject(layer.object) +
                                           " must set exactly one of value and flag"));
    }
  } else {
    if (!arg.value.has_value()) {
      causes.push_back(
          MakeCause(path, "arg" + InObject(layer.object) + " has neither name nor value: set one"));
    }
    if (arg.flag.has_value()) {
      causes.push_back(MakeCause(path + ".flag", "flag" + InObject(layer.object) +
                                                     " needs a name: add name or remove flag"));
    }
  }
  if (arg.value.has_value() && arg.value->find('\0') != std::string::npos) {
    causes.push_back(
        MakeCause(path + ".value", "arg value" + InObject(layer.object) +
                                       " contains a NUL byte, which no process can receive"));
  }
  return causes.size() == before;
}

// Named args while merging: a removed arg leaves an empty slot, so the
// positions of the others stay valid for the index.
struct NamedArgSlots {
  std::vector<std::optional<NamedArg>> slots;
  std::map<std::string, size_t> slot_of;  // option -> index into slots

  void Apply(const api::Arg& arg) {
    std::string option = OptionForName(*arg.name);
    auto it = slot_of.find(option);
    if (arg.flag.has_value() && !*arg.flag) {
      if (it != slot_of.end()) {
        slots[it->second].reset();
        slot_of.erase(it);
      }
      return;
    }
    std::optional<std::string> value = arg.flag.has_value() ? std::nullopt : arg.value;
    if (it != slot_of.end()) {
      slots[it->second]->value = std::move(value);
      return;
    }
    slot_of.emplace(option, slots.size());
    slots.push_back(NamedArg{std::move(option), std::move(value)});
  }

  std::vector<NamedArg> Collect() && {
    std::vector<NamedArg> named;
    for (std::optional<NamedArg>& slot : slots) {
      if (slot.has_value()) named.push_back(std::move(*slot));
    }
    return named;
  }
};

Status InvalidMerge(std::vector<Cause> causes) {
  std::string message =
      std::to_string(causes.size()) + " invalid env or arg value" + (causes.size() == 1 ? "" : "s");
  return Status::InvalidArgument(std::move(message), std::move(causes));
}

}  // namespace

std::string OptionForName(std::string_view name) {
  if (name.starts_with('-')) return std::string(name);
  return "--" + std::string(name);
}

bool IsValidEnvName(std::string_view name) {
  if (name.empty() || IsAsciiDigit(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsAsciiAlpha(c) || IsAsciiDigit(c) || c == '_'; });
}

bool IsValidArgName(std::string_view name) {
  size_t dashes = 0;
  while (dashes < name.size() && dashes < 2 && name[dashes] == '-') ++dashes;
  const std::string_view rest = name.substr(dashes);
  if (rest.empty() || !(IsAsciiAlpha(rest[0]) || IsAsciiDigit(rest[0]))) return false;
  return std::all_of(rest.begin(), rest.end(), [](char c) {
    return IsAsciiAlpha(c) || IsAsciiDigit(c) || c == '.' || c == '_' || c == '-';
  });
}

StatusOr<std::vector<api::EnvVar>> MergeEnvs(std::span<const EnvLayer> layers) {
  std::vector<api::EnvVar> merged;
  std::map<std::string, size_t> position_of;  // name -> index into merged
  std::vector<Cause> causes;
  for (const EnvLayer& layer : layers) {
    std::map<std::string, size_t> first_index;  // name -> index within this layer
    for (size_t i = 0; i < layer.envs.size(); ++i) {
      const api::EnvVar& env = layer.envs[i];
      ValidateEnv(layer, i, causes);
      auto [seen, inserted] = first_index.emplace(env.name, i);
      if (!inserted) {
        causes.push_back(MakeCause(ItemPath(layer.field, i) + ".name",
                                   "env " + Quoted(env.name) + InObject(layer.object) +
                                       " is already set at " + ItemPath(layer.field, seen->second) +
                                       ": keep one of them"));
        continue;
      }

      auto [position, is_new] = position_of.emplace(env.name, merged.size());
      if (is_new) {
        merged.push_back(env);
      } else {
        merged[position->second].value = env.value;
      }
    }
  }
  if (!causes.empty()) return InvalidMerge(std::move(causes));
  return merged;
}

StatusOr<MergedArgs> MergeArgs(std::span<const ArgLayer> layers) {
  MergedArgs merged;
  NamedArgSlots named;
  std::vector<Cause> causes;
  for (const ArgLayer& layer : layers) {
    std::map<std::string, size_t> first_index;  // option -> index within this layer
    for (size_t i = 0; i < layer.args.size(); ++i) {
      const api::Arg& arg = layer.args[i];
      if (!ValidateArg(layer, i, causes)) continue;
      if (!arg.name.has_value()) {
        merged.positional.push_back(*arg.value);
        continue;
      }

      auto [seen, inserted] = first_index.emplace(OptionForName(*arg.name), i);
      if (!inserted) {
        causes.push_back(MakeCause(ItemPath(layer.field, i) + ".name",
                                   "arg " + Quoted(*arg.name) + InObject(layer.object) +
                                       " is already set at " + ItemPath(layer.field, seen->second) +
                                       ": keep one of them"));
        continue;
      }
      named.Apply(arg);
    }
  }
  if (!causes.empty()) return InvalidMerge(std::move(causes));
  merged.named = std::move(named).Collect();
  return merged;
}

}  // namespace svcd::render
