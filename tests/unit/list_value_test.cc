#include "service/list_value.h"

#include <gtest/gtest.h>

#include <deque>
#include <random>
#include <string>
#include <vector>

#include "service/record_types.h"

namespace devstate {
namespace {

std::vector<std::string> Elements(const RecordPtr& r) {
  std::vector<std::string> out;
  if (!r) return out;
  ListView view(*r);
  for (size_t i = 0; i < view.size(); ++i) out.emplace_back(view.At(i));
  return out;
}

// What the journal holds after `change`: the previous record's fields with the change's
// ops replayed on them, under the new header (as recovery and a replica rebuild a list).
RecordPtr Replayed(const RecordPtr& before, const Change& change) {
  if (change.kind == Change::Kind::kDelete) return nullptr;
  if (change.kind == Change::Kind::kNone) return before;
  auto fields =
      before ? std::make_shared<FieldMap>(*before->fields()) : std::make_shared<FieldMap>();
  for (const FieldOp& op : change.ops) {
    if (op.erase) {
      fields->Erase(op.name);
    } else {
      fields->Set(op.name, op.value);
    }
  }
  Record::Parts parts = change.record->parts();
  parts.fields = fields;
  return Record::Make(parts);
}

// Random pushes, pops, sets and replacements, each checked against a deque, on copies
// that must not change, and against the journal's replay of each change's ops.
TEST(ListValueTest, EditsMatchADequeAndTheirJournalOps) {
  std::mt19937 rng(7);
  std::deque<std::string> model;
  RecordPtr list;
  for (int step = 0; step < 3000; ++step) {
    const RecordPtr before = list;
    const std::vector<std::string> before_elements = Elements(before);
    ListEdit edit(list, false);
    const int op = static_cast<int>(rng() % 6);
    const std::string value = "v" + std::to_string(step);
    if (op == 0) {
      edit.PushFront(value);
      model.push_front(value);
    } else if (op == 1) {
      edit.PushBack(value);
      model.push_back(value);
    } else if (op == 2 && !model.empty()) {
      EXPECT_EQ(edit.PopFront(), model.front());
      model.pop_front();
    } else if (op == 3 && !model.empty()) {
      EXPECT_EQ(edit.PopBack(), model.back());
      model.pop_back();
    } else if (op == 4 && !model.empty()) {
      const size_t at = rng() % model.size();
      edit.Set(at, value);
      model[at] = value;
    } else if (op == 5) {
      const size_t from = model.empty() ? 0 : rng() % (model.size() + 1);
      const size_t to = from + rng() % (model.size() - from + 1);
      std::vector<std::string> with(rng() % 4);
      for (size_t i = 0; i < with.size(); ++i) with[i] = value + "." + std::to_string(i);
      edit.Replace(from, to, with);
      model.erase(model.begin() + static_cast<ptrdiff_t>(from),
                  model.begin() + static_cast<ptrdiff_t>(to));
      // Not insert() of an empty range: Debian 12's libstdc++ (GCC 12) then empties the
      // elements after the position.
      for (size_t i = 0; i < with.size(); ++i)
        model.insert(model.begin() + static_cast<ptrdiff_t>(from + i), with[i]);
    }
    Change change = edit.Finish();
    const RecordPtr replayed = Replayed(before, change);
    if (change.kind == Change::Kind::kPatch || change.kind == Change::Kind::kPut) {
      list = change.record;
    } else if (change.kind == Change::Kind::kDelete) {
      list = nullptr;
    }
    ASSERT_EQ(Elements(list), std::vector<std::string>(model.begin(), model.end())) << step;
    ASSERT_EQ(Elements(replayed), Elements(list)) << step;
    ASSERT_EQ(Elements(before), before_elements) << "a published list changed, step " << step;
    if (list) {
      ASSERT_EQ(list->type(), kListRecordType);
      ASSERT_EQ(list->fields()->size(), model.size()) << "ids left behind, step " << step;
    }
  }
}

// A push or a pop at either end journals one element (and the header), however long the
// list; an insert in the middle moves only its shorter side.
TEST(ListValueTest, AJournalChangeFollowsWhatChanged) {
  RecordPtr list;
  {
    ListEdit edit(list, false);
    for (int i = 0; i < 1000; ++i) edit.PushBack("e" + std::to_string(i));
    list = edit.Finish().record;
  }
  {
    ListEdit edit(list, false);
    edit.PushFront("x");
    EXPECT_EQ(edit.Finish().ops.size(), 1u);
  }
  {
    ListEdit edit(list, false);
    EXPECT_EQ(edit.PopBack(), "e999");
    Change c = edit.Finish();
    ASSERT_EQ(c.ops.size(), 1u);
    EXPECT_TRUE(c.ops[0].erase);
  }
  {
    ListEdit edit(list, false);
    edit.Replace(10, 10, {"new"});  // near the head: 10 moved, 1 written
    Change c = edit.Finish();
    EXPECT_EQ(c.ops.size(), 11u);
    EXPECT_EQ(Elements(c.record)[10], "new");
    EXPECT_EQ(Elements(c.record)[11], "e10");
  }
  {
    ListEdit edit(list, false);
    edit.Replace(995, 996, {});  // near the tail: 4 moved, 1 erased
    EXPECT_EQ(edit.Finish().ops.size(), 5u);
  }
}

TEST(ListValueTest, AnEmptiedListIsDeletedAndIndexesCountFromEitherEnd) {
  ListEdit edit(nullptr, false);
  edit.PushBack("a");
  RecordPtr list = edit.Finish().record;
  ListEdit pop(list, false);
  EXPECT_EQ(pop.PopFront(), "a");
  EXPECT_EQ(pop.Finish().kind, Change::Kind::kDelete);

  size_t at = 0;
  EXPECT_TRUE(ListIndex(-1, 3, &at));
  EXPECT_EQ(at, 2u);
  EXPECT_TRUE(ListIndex(0, 3, &at));
  EXPECT_EQ(at, 0u);
  EXPECT_FALSE(ListIndex(3, 3, &at));
  EXPECT_FALSE(ListIndex(-4, 3, &at));
  EXPECT_FALSE(ListIndex(INT64_MIN, 3, &at));
  EXPECT_FALSE(ListIndex(0, 0, &at));
}

}  // namespace
}  // namespace devstate
