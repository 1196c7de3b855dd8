// planner_fuzz: a bounded, in-process mutation fuzzer for the targets of targets.h, for CI and
// for machines without libFuzzer (docs/robustness.md).
//
//   planner_fuzz TARGET|all --corpus DIR [--runs N] [--seed S] [--max-len BYTES] [--timeout S]
//                [--crash-dir DIR]
//
// Each run takes a corpus file (tests/data/fuzz/TARGET/*), applies 1 to 8 random mutations
// (byte flips, bytes from a dictionary of the formats' tokens, deleted/duplicated/inserted spans
// and lines, splices with another corpus file, deep nesting, huge numbers) and runs the target.
// A finding -- an exception other than InputError, a rejection that does not name the input, a
// crash signal or a run over --timeout seconds -- writes the input to --crash-dir and exits 1.
// A summary line per target gives runs, accepted, rejected and rejections naming a field.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <functional>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "tests/fuzz/targets.h"

namespace {

using planner::fuzz::Target;

// The input being run, for the signal handlers (written with write(2) only).
const std::string* g_current = nullptr;
char g_crash_path[4096] = "";
const char* g_target_name = "";

void write_current(const char* why) {
  const int fd = g_crash_path[0] ? ::open(g_crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;
  if (fd >= 0 && g_current) {
    ssize_t ignored = ::write(fd, g_current->data(), g_current->size());
    (void)ignored;
    ::close(fd);
  }
  const char* parts[] = {"planner_fuzz: FINDING in target ", g_target_name, ": ", why, "; input written to ",
                         g_crash_path, "\n"};
  for (const char* p : parts) {
    ssize_t ignored = ::write(2, p, std::strlen(p));
    (void)ignored;
  }
}

void on_signal(int sig) {
  write_current(sig == SIGALRM ? "hang (over --timeout)" : sig == SIGSEGV ? "SIGSEGV" : sig == SIGABRT ? "SIGABRT"
                                                                                       : sig == SIGBUS ? "SIGBUS"
                                                                                                       : "SIGFPE");
  ::_exit(1);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> read_corpus(const std::string& dir, size_t max_len) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') names.push_back(e->d_name);
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());  // the same order everywhere: runs repeat with a seed
  std::vector<std::string> corpus;
  for (const auto& n : names) {
    std::string s = read_file(dir + "/" + n);
    if (s.size() <= max_len) corpus.push_back(std::move(s));
  }
  return corpus;
}

// Tokens of the formats (JSON, hwloc XML, nvidia-smi text) and values parsers get wrong.
const std::vector<std::string>& dictionary() {
  static const std::vector<std::string> d{
      "{", "}", "[", "]", "\"", ":", ",", "null", "true", "false", "0", "-1", "1e308", "-1e308", "1e999",
      "9223372036854775807", "9223372036854775808", "-9223372036854775808", "18446744073709551615",
      "4294967296", "2147483648", "0.5", "-0", "NaN", "Infinity", "\"\"", "\"\\u0000\"", "\\", "\"\\ud800\"",
      "<", ">", "/>", "</object>", "<object type=\"PU\" os_index=\"0\" cpuset=\"0x1\"/>", "=\"", "\"0x0\"",
      "\"0xf...f\"", "0xffffffff,", "cpuset", "complete_cpuset", "nodeset", "os_index", "gp_index", "type",
      "<info name=\"GPUModel\" value=\"x\"/>", "&amp;", "<!--", "-->", "<![CDATA[", "GPU0", "GPU1", "NV18",
      "NV99999999999999999999", "X", "PIX", "SYS", "NIC0", "\x1b[31m", "\n", "\t", " ", "\xff", "\xc3\xa9",
  };
  return d;
}

class Mutator {
 public:
  explicit Mutator(uint64_t seed) : rng_(seed) {}

  std::string mutate(const std::string& base, const std::vector<std::string>& corpus, size_t max_len) {
    std::string s = base;
    const int n = 1 + static_cast<int>(below(8));
    for (int i = 0; i < n; ++i) apply(&s, corpus);
    if (s.size() > max_len) s.resize(max_len);
    return s;
  }

 private:
  std::mt19937_64 rng_;
  size_t below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(rng_() % n); }
  size_t pos(const std::string& s) { return below(s.size() + 1); }

  void apply(std::string* s, const std::vector<std::string>& corpus) {
    const auto& dict = dictionary();
    switch (below(13)) {
      case 0:  // flip a bit
        if (!s->empty()) (*s)[below(s->size())] ^= static_cast<char>(1u << below(8));
        break;
      case 1:  // a random byte
        if (!s->empty()) (*s)[below(s->size())] = static_cast<char>(below(256));
        break;
      case 2:  // insert a dictionary token
        s->insert(pos(*s), dict[below(dict.size())]);
        break;
      case 3:  // replace a span with a dictionary token
        if (!s->empty()) {
          const size_t p = below(s->size());
          s->replace(p, std::min(s->size() - p, 1 + below(16)), dict[below(dict.size())]);
        }
        break;
      case 4:  // delete a span
        if (!s->empty()) {
          const size_t p = below(s->size());
          s->erase(p, std::min(s->size() - p, 1 + below(64)));
        }
        break;
      case 5:  // duplicate a span
        if (!s->empty()) {
          const size_t p = below(s->size());
          const std::string span = s->substr(p, 1 + below(64));
          s->insert(pos(*s), span);
        }
        break;
      case 6:  // delete one line (a broken file: "one line deleted")
      case 7: {
        const size_t start = s->rfind('\n', pos(*s));
        const size_t a = start == std::string::npos ? 0 : start + 1;
        const size_t b = s->find('\n', a);
        s->erase(a, b == std::string::npos ? std::string::npos : b - a + 1);
        break;
      }
      case 8:  // duplicate one line
      {
        const size_t start = s->rfind('\n', pos(*s));
        const size_t a = start == std::string::npos ? 0 : start + 1;
        const size_t b = s->find('\n', a);
        const std::string line = s->substr(a, b == std::string::npos ? std::string::npos : b - a + 1);
        s->insert(a, line);
        break;
      }
      case 9:  // splice: the head of this input, the tail of another corpus file
        if (!corpus.empty()) {
          const std::string& o = corpus[below(corpus.size())];
          *s = s->substr(0, pos(*s)) + o.substr(below(o.size() + 1));
        }
        break;
      case 10:  // deep nesting (JSON arrays, or XML objects)
      {
        const size_t depth = below(16) == 0 ? 100000 : 1 + below(300);
        const bool xml = s->find('<') != std::string::npos;
        std::string open, close;
        for (size_t i = 0; i < depth; ++i) {
          open += xml ? "<object type=\"Group\">" : "[";
          close += xml ? "</object>" : "]";
        }
        s->insert(pos(*s), open + close);
        break;
      }
      case 11:  // a digit run: huge numbers
      {
        std::string digits(1 + below(below(2) ? 40 : 400), '9');
        s->insert(pos(*s), digits);
        break;
      }
      case 12:  // truncate
        s->resize(pos(*s));
        break;
    }
  }
};

struct Stats {
  uint64_t runs = 0, accepted = 0, rejected = 0, rejected_with_field = 0;
};

bool run_one(const Target& t, const std::string& input, Stats* st, std::string* finding) {
  ++st->runs;
  try {
    t.run(input);
    ++st->accepted;
    return true;
  } catch (const planner::InputError& e) {
    const std::string msg = e.what();
    if (msg.rfind(std::string(planner::fuzz::kInputName) + ":", 0) != 0) {
      *finding = "a rejection that does not name the input: " + msg.substr(0, 500);
      return false;
    }
    if (msg.size() > 20000) {
      *finding = "a rejection message of " + std::to_string(msg.size()) + " bytes";
      return false;
    }
    ++st->rejected;
    if (msg.find("field '") != std::string::npos) ++st->rejected_with_field;
    return true;
  } catch (const std::exception& e) {
    *finding = std::string("an exception other than InputError: ") + e.what();
    return false;
  } catch (...) {
    *finding = "an exception of unknown type";
    return false;
  }
}

int usage() {
  std::fprintf(stderr,
               "usage: planner_fuzz TARGET|all --corpus DIR [--runs N] [--seed S] [--max-len BYTES] [--timeout S] "
               "[--crash-dir DIR]\n       planner_fuzz --list\n       planner_fuzz TARGET --replay FILE...\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "--list") {
    for (const auto& t : planner::fuzz::targets()) std::printf("%-8s %s\n", t.name, t.parses);
    return 0;
  }
  if (argc < 2) return usage();
  const std::string which = argv[1];
  std::string corpus_root, crash_dir = ".";
  uint64_t runs = 10000, seed = 1;
  size_t max_len = 1 << 20;
  unsigned timeout_s = 10;
  std::vector<std::string> replay;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--corpus") corpus_root = next();
    else if (a == "--runs") runs = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--seed") seed = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--max-len") max_len = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--timeout") timeout_s = static_cast<unsigned>(std::strtoul(next().c_str(), nullptr, 10));
    else if (a == "--crash-dir") crash_dir = next();
    else if (a == "--replay") {
      while (i + 1 < argc) replay.push_back(argv[++i]);
    } else return usage();
  }
  for (int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGALRM}) ::signal(sig, on_signal);

  std::vector<const Target*> chosen;
  if (which == "all") {
    for (const auto& t : planner::fuzz::targets()) chosen.push_back(&t);
  } else if (const Target* t = planner::fuzz::find_target(which)) {
    chosen.push_back(t);
  } else {
    std::fprintf(stderr, "unknown target '%s' (--list shows them)\n", which.c_str());
    return 2;
  }

  if (!replay.empty()) {  // run given files once each (a finding's reproducer)
    Stats st;
    for (const auto& f : replay) {
      const std::string input = read_file(f);
      std::string finding;
      if (!run_one(*chosen.front(), input, &st, &finding)) {
        std::fprintf(stderr, "%s: %s\n", f.c_str(), finding.c_str());
        return 1;
      }
    }
    std::printf("replayed %llu inputs: %llu accepted, %llu rejected\n", (unsigned long long)st.runs,
                (unsigned long long)st.accepted, (unsigned long long)st.rejected);
    return 0;
  }
  if (corpus_root.empty()) return usage();

  int rc = 0;
  for (const Target* t : chosen) {
    const std::vector<std::string> corpus = read_corpus(corpus_root + "/" + t->name, max_len);
    if (corpus.empty()) {
      std::fprintf(stderr, "%s: no corpus files under %s/%s (of at most %zu bytes)\n", t->name, corpus_root.c_str(),
                   t->name, max_len);
      return 2;
    }
    g_target_name = t->name;
    std::snprintf(g_crash_path, sizeof g_crash_path, "%s/fuzz-finding-%s.bin", crash_dir.c_str(), t->name);
    Mutator m(seed * 1000003u + std::hash<std::string>{}(t->name));
    Stats st;
    const auto t0 = std::chrono::steady_clock::now();
    std::string input;
    g_current = &input;
    for (uint64_t r = 0; r < runs; ++r) {
      // The corpus files themselves first, then mutations of them.
      input = r < corpus.size() ? corpus[r] : m.mutate(corpus[r % corpus.size()], corpus, max_len);
      ::alarm(timeout_s);
      std::string finding;
      const bool ok = run_one(*t, input, &st, &finding);
      ::alarm(0);
      if (!ok) {
        write_current(finding.c_str());
        return 1;
      }
    }
    g_current = nullptr;
    g_target_name = "(none: after the runs)";
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%-8s %llu runs in %.1f s (%.0f/s): %llu accepted, %llu rejected (%llu naming a field), 0 findings\n",
                t->name, (unsigned long long)st.runs, s, static_cast<double>(st.runs) / std::max(s, 1e-9),
                (unsigned long long)st.accepted, (unsigned long long)st.rejected,
                (unsigned long long)st.rejected_with_field);
    std::fflush(stdout);
  }
  // Findings after the runs (a sanitizer's leak report at exit) are the sanitizer's to print.
  for (int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGALRM}) ::signal(sig, SIG_DFL);
  return rc;
}
