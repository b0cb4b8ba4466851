// Label selectors in Kubernetes syntax: requirements separated by commas,
// all of which must hold.
//
//   key=value, key==value   the label is set to value
//   key!=value              the label is unset or set to another value
//   key in (a,b)            the label is set to one of the values
//   key notin (a,b)         the label is unset or set to none of the values
//   key                     the label is set
//   !key                    the label is unset

#ifndef SVCD_STORE_LABEL_SELECTOR_H_
#define SVCD_STORE_LABEL_SELECTOR_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "api/status.h"

namespace svcd::store {

class LabelSelector {
 public:
  enum class Operator { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist };

  struct Requirement {
    std::string key;
    Operator op = Operator::kExists;
    std::vector<std::string> values;  // one for (not) equals, one or more for (not)in
  };

  // The empty selector, which matches every object.
  LabelSelector() = default;

  // Parses `text`; an empty or all-blank text is the empty selector.
  // InvalidArgument names the requirement that cannot be read and shows the
  // accepted forms.
  static StatusOr<LabelSelector> Parse(std::string_view text);

  // Returns true when every requirement holds for `labels`.
  bool Matches(const std::map<std::string, std::string>& labels) const;

  bool empty() const { return requirements_.empty(); }
  const std::vector<Requirement>& requirements() const { return requirements_; }

 private:
  std::vector<Requirement> requirements_;
};

}  // namespace svcd::store

#endif  // SVCD_STORE_LABEL_SELECTOR_H_
