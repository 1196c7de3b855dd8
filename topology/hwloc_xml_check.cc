#include "topology/hwloc_xml_check.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <vector>

#include "core/error.h"
#include "core/limits.h"

namespace planner::topo {

namespace {

struct Element {
  std::string name;
  std::vector<std::pair<std::string, std::string>> attrs;
  size_t offset = 0;  // of its '<', for the line number in errors
  std::vector<size_t> children;
  std::string text;   // kept for <indexes> and <u64values> only
  const std::string* attr(const char* key) const {
    for (const auto& a : attrs)
      if (a.first == key) return &a.second;
    return nullptr;
  }
};

class Checker {
 public:
  Checker(const std::string& xml, const std::string& where) : xml_(xml), where_(where) {}

  void run() {
    parse();
    check_tree();
  }

 private:
  const std::string& xml_;
  const std::string& where_;
  std::vector<Element> el_;

  size_t line_of(size_t offset) const {
    return 1 + static_cast<size_t>(std::count(xml_.begin(), xml_.begin() + static_cast<long>(std::min(offset, xml_.size())), '\n'));
  }
  [[noreturn]] void fail_at(size_t offset, const std::string& msg) const {
    throw InputError(where_, "line " + std::to_string(line_of(offset)),
                     msg + " (malformed or incomplete hwloc topology XML; check it with `lstopo --input FILE`)");
  }
  [[noreturn]] void fail(const Element& e, const std::string& msg) const {
    const std::string* type = e.attr("type");
    fail_at(e.offset, "<" + e.name + (type ? " type=\"" + quote_for_error(*type) + "\"" : "") + ">: " + msg);
  }

  // --- the XML itself: elements, attributes, text; no DTD, no entities expanded. As strict as
  // libhwloc's own ("minimalistic") XML parser, so that both read the same tree: element names of
  // lower-case letters, digits and '_', attribute names of lower-case letters and '_', `name="value"` with nothing around the '=', double quotes,
  // closing tags written `</name>`, text only in <indexes>, <u64values> and <userdata>, and
  // nothing but <?xml ...?> and <!DOCTYPE ...> before the root (an attribute written
  // `complete_cpuset ="..."` reads as missing in libhwloc, which then crashes). ---
  static bool name_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }
  static bool attr_char(char c) { return (c >= 'a' && c <= 'z') || c == '_'; }
  static bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
  static bool holds_text(const std::string& element) {
    return element == "indexes" || element == "u64values" || element == "userdata";
  }

  void parse() {
    const std::string& s = xml_;
    size_t i = 0;
    std::vector<size_t> stack;
    bool root_done = false;
    while (i < s.size()) {
      if (s[i] != '<') {
        const size_t next = s.find('<', i);
        const size_t end = next == std::string::npos ? s.size() : next;
        if (stack.empty() || !holds_text(el_[stack.back()].name)) {
          for (size_t k = i; k < end; ++k)
            if (!space(s[k]))
              fail_at(k, stack.empty() ? "text outside the <topology> element"
                                       : "text inside <" + el_[stack.back()].name + ">");
        } else {
          el_[stack.back()].text.append(s, i, end - i);
        }
        i = end;
        continue;
      }
      if (s.compare(i, 2, "<?") == 0 || s.compare(i, 2, "<!") == 0) {  // <?xml ...?>, <!DOCTYPE ...>
        if (!el_.empty()) fail_at(i, "<?...?> or <!...> inside the topology (libhwloc does not read them there)");
        if (s.compare(i, 9, "<!DOCTYPE") != 0 && s.compare(i, 5, "<?xml") != 0) fail_at(i, "only <?xml ...?> and <!DOCTYPE ...> may precede <topology>");
        const size_t e = s.find('>', i + 2);
        if (e == std::string::npos) fail_at(i, "unterminated <?...?> or <!...>");
        if (s.find('[', i) < e) fail_at(i, "a DOCTYPE with an internal subset is not hwloc XML");
        i = e + 1;
        continue;
      }
      if (s.compare(i, 2, "</") == 0) {
        size_t k = i + 2;
        while (k < s.size() && name_char(s[k])) ++k;
        const std::string name = s.substr(i + 2, k - i - 2);
        if (k >= s.size() || s[k] != '>') fail_at(i, "malformed closing tag (expected </name>)");
        if (stack.empty() || el_[stack.back()].name != name)
          fail_at(i, "</" + quote_for_error(name) + "> does not close " +
                         (stack.empty() ? std::string("any element") : "<" + el_[stack.back()].name + ">"));
        stack.pop_back();
        if (stack.empty()) root_done = true;
        i = k + 1;
        continue;
      }
      // An opening tag.
      if (root_done) fail_at(i, "a second top-level element");
      if (el_.size() >= kMaxXmlElements)
        fail_at(i, "more than " + std::to_string(kMaxXmlElements) + " elements (the limit)");
      if (stack.size() >= static_cast<size_t>(kMaxXmlDepth))
        fail_at(i, "elements nested deeper than " + std::to_string(kMaxXmlDepth) + " (the limit)");
      Element e;
      e.offset = i;
      size_t k = i + 1;
      while (k < s.size() && name_char(s[k])) ++k;
      e.name = s.substr(i + 1, k - i - 1);
      if (e.name.empty()) fail_at(i, "malformed tag (a name of lower-case letters, digits and '_' expected)");
      bool self_closing = false;
      for (;;) {
        while (k < s.size() && space(s[k])) ++k;
        if (k >= s.size()) fail_at(i, "unterminated <" + quote_for_error(e.name) + "> tag");
        if (s[k] == '>') {
          ++k;
          break;
        }
        if (s[k] == '/') {
          if (k + 1 >= s.size() || s[k + 1] != '>') fail_at(k, "malformed tag end");
          self_closing = true;
          k += 2;
          break;
        }
        const size_t a0 = k;
        while (k < s.size() && attr_char(s[k])) ++k;
        if (k == a0) fail_at(k, "malformed attribute in <" + quote_for_error(e.name) + ">");
        std::string key = s.substr(a0, k - a0);
        if (k + 1 >= s.size() || s[k] != '=' || s[k + 1] != '"')
          fail_at(a0, "attribute " + quote_for_error(key) + " is not written name=\"value\"");
        const size_t v0 = k + 2;
        const size_t v1 = s.find('"', v0);
        if (v1 == std::string::npos) fail_at(a0, "unterminated value of attribute " + quote_for_error(key));
        if (s.find('<', v0) < v1) fail_at(a0, "'<' inside the value of attribute " + quote_for_error(key));
        if (e.attr(key.c_str())) fail_at(a0, "attribute " + quote_for_error(key) + " given twice");
        e.attrs.emplace_back(std::move(key), s.substr(v0, v1 - v0));
        k = v1 + 1;
      }
      if (stack.empty() && e.name != "topology") fail_at(i, "the top-level element is <" + quote_for_error(e.name) + ">, not <topology>");
      const size_t idx = el_.size();
      if (!stack.empty()) el_[stack.back()].children.push_back(idx);
      el_.push_back(std::move(e));
      if (self_closing) {
        if (stack.empty()) root_done = true;
      } else {
        stack.push_back(idx);
      }
      i = k;
    }
    if (!stack.empty()) fail_at(el_[stack.back()].offset, "<" + el_[stack.back()].name + "> is never closed (the file ends first)");
    if (el_.empty()) fail_at(0, "no <topology> element");
  }

  // --- hwloc bitmaps: "0x00000003", "0x0000000f,0xffffffff" (32-bit words, most significant
  // first), "0xf...f,..." (infinitely many set bits above) ---
  struct Bitmap {
    std::vector<uint32_t> words;  // least significant first
    bool infinite = false;
    bool test(size_t bit) const { return bit / 32 < words.size() && (words[bit / 32] >> (bit % 32) & 1u); }
    size_t weight() const {
      size_t n = 0;
      for (uint32_t w : words) n += static_cast<size_t>(__builtin_popcount(w));
      return n;
    }
    void trim() {
      while (!words.empty() && words.back() == 0) words.pop_back();
    }
  };

  Bitmap bitmap(const Element& e, const char* key) const {
    const std::string* v = e.attr(key);
    if (!v) fail(e, std::string("attribute ") + key + " is missing (hwloc needs it on every CPU-side object)");
    Bitmap b;
    std::vector<uint32_t> msb_first;
    size_t i = 0;
    const std::string& s = *v;
    if (s.compare(0, 7, "0xf...f") == 0) {
      b.infinite = true;
      i = 7;
      if (i < s.size() && s[i] == ',') ++i;
    }
    while (i < s.size()) {
      size_t j = s.find(',', i);
      if (j == std::string::npos) j = s.size();
      std::string w = s.substr(i, j - i);
      if (w.compare(0, 2, "0x") == 0) w = w.substr(2);
      if (w.empty() || w.size() > 8 || w.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
        fail(e, std::string("attribute ") + key + "=\"" + quote_for_error(s) + "\" is not an hwloc bitmap (0x... words)");
      msb_first.push_back(static_cast<uint32_t>(std::stoul(w, nullptr, 16)));
      if (msb_first.size() > kMaxBitmapWords)
        fail(e, std::string("attribute ") + key + " has more than " + std::to_string(kMaxBitmapWords) + " words (the limit)");
      i = j + 1;
    }
    if (msb_first.empty() && !b.infinite) fail(e, std::string("attribute ") + key + " is empty");
    b.words.assign(msb_first.rbegin(), msb_first.rend());
    b.trim();
    return b;
  }

  static bool subset(const Bitmap& a, const Bitmap& b) {  // a within b
    if (b.infinite) return true;
    if (a.infinite) return false;
    for (size_t i = 0; i < a.words.size(); ++i)
      if (a.words[i] & ~(i < b.words.size() ? b.words[i] : 0u)) return false;
    return true;
  }
  static bool equal(const Bitmap& a, const Bitmap& b) { return a.infinite == b.infinite && a.words == b.words; }
  static void add(Bitmap* into, const Bitmap& b) {
    into->infinite = into->infinite || b.infinite;
    if (into->words.size() < b.words.size()) into->words.resize(b.words.size(), 0);
    for (size_t i = 0; i < b.words.size(); ++i) into->words[i] |= b.words[i];
  }
  static std::string show(const Bitmap& b) {
    if (b.infinite) return "an infinite set";
    std::string out;
    size_t shown = 0;
    for (size_t bit = 0; bit < b.words.size() * 32 && shown < 16; ++bit)
      if (b.test(bit)) out += (shown++ ? "," : "") + std::to_string(bit);
    if (b.weight() > shown) out += ",... (" + std::to_string(b.weight()) + " in all)";
    return "{" + out + "}";
  }

  uint64_t number(const Element& e, const char* key) const {
    const std::string* v = e.attr(key);
    if (!v) fail(e, std::string("attribute ") + key + " is missing");
    if (v->empty() || v->size() > 18 || v->find_first_not_of("0123456789") != std::string::npos)
      fail(e, std::string("attribute ") + key + "=\"" + quote_for_error(*v) + "\" is not a non-negative integer");
    return std::stoull(*v);
  }

  // --- the object tree ---
  enum class Kind { normal, memory, io, misc };
  static Kind kind_of(const std::string& type) {
    if (type == "NUMANode" || type == "MemCache") return Kind::memory;
    if (type == "Bridge" || type == "PCIDev" || type == "OSDev") return Kind::io;
    if (type == "Misc") return Kind::misc;
    return Kind::normal;
  }
  static bool known_type(const std::string& t) {
    static const std::set<std::string> types{"System", "Machine", "Package", "Die", "Group", "NUMANode", "MemCache",
                                             "L1Cache", "L2Cache", "L3Cache", "L4Cache", "L5Cache", "L1iCache",
                                             "L2iCache", "L3iCache", "Core", "PU", "Bridge", "PCIDev", "OSDev",
                                             "Misc", "Cache", "Node", "Socket"};  // the last three: hwloc 1.x names
    return types.count(t) > 0;
  }
  const std::string& type_of(const Element& e) const {
    const std::string* t = e.attr("type");
    if (!t) fail(e, "attribute type is missing");
    if (!known_type(*t)) fail(e, "unknown object type \"" + quote_for_error(*t) + "\"");
    return *t;
  }
  bool cpu_side(const Element& e) const {
    const Kind k = kind_of(type_of(e));
    return k == Kind::normal || k == Kind::memory;
  }
  // A CPU-side child that carries CPUs for its parent: a normal object, or (hwloc 1.x) a NUMA
  // node with normal children.
  bool normal_child(const Element& c) const {
    if (c.name != "object" || !cpu_side(c)) return false;
    if (kind_of(type_of(c)) == Kind::normal) return true;
    for (size_t g : c.children)
      if (el_[g].name == "object" && kind_of(type_of(el_[g])) == Kind::normal) return true;
    return false;
  }

  struct Seen {
    std::set<uint64_t> gp_index;
    std::set<std::pair<std::string, uint64_t>> os_index;  // (type, os_index)
    Bitmap numa_nodes;                                     // union of the NUMA nodes' nodesets
  };

  void check_object(const Element& e, Seen* seen) const {
    const std::string& type = type_of(e);
    if (e.attr("gp_index")) seen->gp_index.insert(number(e, "gp_index"));
    if (e.attr("os_index")) seen->os_index.insert({type, number(e, "os_index")});
    if (type == "PCIDev" && !e.attr("pci_busid")) fail(e, "attribute pci_busid is missing");
    if (type == "Bridge" && !e.attr("bridge_type")) fail(e, "attribute bridge_type is missing");
    if (type == "OSDev" && !e.attr("osdev_type")) fail(e, "attribute osdev_type is missing");
    if (!cpu_side(e)) {
      for (size_t c : e.children)
        if (el_[c].name == "object") check_object(el_[c], seen);
      return;
    }
    const Bitmap cpuset = bitmap(e, "cpuset"), complete = bitmap(e, "complete_cpuset");
    const Bitmap nodeset = bitmap(e, "nodeset"), complete_nodes = bitmap(e, "complete_nodeset");
    if (!subset(cpuset, complete)) fail(e, "cpuset " + show(cpuset) + " is not within complete_cpuset " + show(complete));
    if (!subset(nodeset, complete_nodes))
      fail(e, "nodeset " + show(nodeset) + " is not within complete_nodeset " + show(complete_nodes));
    if (type == "PU") {
      const uint64_t os = number(e, "os_index");
      if (cpuset.infinite || cpuset.weight() != 1 || !cpuset.test(os))
        fail(e, "a PU's cpuset must be its os_index " + std::to_string(os) + ", got " + show(cpuset));
    }
    if (type == "NUMANode" || type == "Node") {
      const uint64_t os = number(e, "os_index");
      if (nodeset.infinite || nodeset.weight() != 1 || !nodeset.test(os))
        fail(e, "a NUMA node's nodeset must be its os_index " + std::to_string(os) + ", got " + show(nodeset));
      add(&seen->numa_nodes, nodeset);
    }
    Bitmap normal_union;
    size_t normal_weights = 0, normal_children = 0;
    for (size_t ci : e.children) {
      const Element& c = el_[ci];
      if (c.name != "object") continue;
      check_object(c, seen);
      if (!cpu_side(c)) continue;
      const Bitmap child = bitmap(c, "cpuset");
      if (normal_child(c)) {
        ++normal_children;
        normal_weights += child.weight();
        add(&normal_union, child);
      } else if (!subset(child, cpuset)) {
        fail(c, "a memory object's cpuset " + show(child) + " is not within its parent's " + show(cpuset));
      }
    }
    if (cpuset.infinite || normal_union.infinite) return;
    if (normal_children == 0) {
      if (type != "PU" && cpuset.weight() > 0 && kind_of(type) == Kind::normal)
        fail(e, "cpuset " + show(cpuset) + " but no child object holds these CPUs (a PU or core missing?)");
      return;
    }
    normal_union.trim();
    if (!equal(normal_union, cpuset))
      fail(e, "cpuset " + show(cpuset) + " is not the union of its children's cpusets " + show(normal_union) +
                  " (an object missing, or a cpuset changed)");
    if (normal_weights != normal_union.weight())
      fail(e, "its children's cpusets overlap (" + std::to_string(normal_weights) + " CPUs counted, " +
                  std::to_string(normal_union.weight()) + " distinct)");
  }

  static std::vector<std::string> tokens(const std::string& text) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < text.size()) {
      while (i < text.size() && space(text[i])) ++i;
      const size_t j = i;
      while (i < text.size() && !space(text[i])) ++i;
      if (i > j) out.push_back(text.substr(j, i - j));
    }
    return out;
  }

  void check_distances(const Element& d, const Seen& seen) const {
    const uint64_t n = number(d, "nbobjs");
    if (n == 0 || n > 65536) fail(d, "nbobjs " + std::to_string(n) + " is not in [1, 65536]");
    std::vector<std::string> idx;
    size_t values = 0;
    for (size_t c : d.children) {
      const Element& ch = el_[c];
      if (ch.name == "indexes") {
        for (auto& t : tokens(ch.text)) idx.push_back(std::move(t));
      } else if (ch.name == "u64values") {
        values += tokens(ch.text).size();
      }
    }
    if (idx.size() != n) fail(d, std::to_string(idx.size()) + " indexes for nbobjs=" + std::to_string(n));
    if (values != n * n)
      fail(d, std::to_string(values) + " values for a " + std::to_string(n) + "x" + std::to_string(n) + " matrix");
    const bool hetero = d.name == "distances2hetero";
    const std::string* type = d.attr("type");
    const std::string* indexing = d.attr("indexing");
    for (const std::string& t : idx) {
      std::string obj_type = type ? *type : "";
      std::string num = t;
      if (hetero) {  // "OSDev:802": type and gp_index
        const size_t colon = t.find(':');
        if (colon == std::string::npos) fail(d, "index \"" + quote_for_error(t) + "\" is not TYPE:GP_INDEX");
        obj_type = t.substr(0, colon);
        num = t.substr(colon + 1);
      }
      if (num.empty() || num.size() > 18 || num.find_first_not_of("0123456789") != std::string::npos)
        fail(d, "index \"" + quote_for_error(t) + "\" is not a number");
      const uint64_t v = std::stoull(num);
      const bool by_os = !hetero && indexing && *indexing == "os";
      const bool found = by_os ? seen.os_index.count({obj_type, v}) > 0 : seen.gp_index.count(v) > 0;
      if (!found)
        fail(d, "names object " + quote_for_error(t) + " (" + (by_os ? "os_index" : "gp_index") +
                    "), which the topology does not have");
    }
  }

  void check_tree() const {
    const Element& top = el_[0];
    const Element* machine = nullptr;
    for (size_t c : top.children) {
      if (el_[c].name != "object") continue;
      if (machine) fail(el_[c], "a second root object");
      machine = &el_[c];
    }
    if (!machine) fail(top, "no root <object>");
    const std::string& root_type = type_of(*machine);
    if (root_type != "Machine" && root_type != "System") fail(*machine, "the root object is not a Machine");
    Seen seen;
    check_object(*machine, &seen);
    const Bitmap nodes = bitmap(*machine, "nodeset");
    Bitmap numa = seen.numa_nodes;
    numa.trim();
    if (!nodes.infinite && !equal(nodes, numa))
      fail(*machine, "nodeset " + show(nodes) + " but the NUMA node objects are " + show(numa) + " (a NUMA node missing?)");
    for (size_t c : top.children)
      if (el_[c].name == "distances2" || el_[c].name == "distances2hetero") check_distances(el_[c], seen);
  }
};

}  // namespace

void check_hwloc_xml(const std::string& xml, const std::string& where) { Checker(xml, where).run(); }

}  // namespace planner::topo
