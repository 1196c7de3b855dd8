// NVML at run time: dlopen("libnvidia-ml.so.1") with declarations of our own, the way NCCL does
// (src/misc/nvmlwrap.cc), so the planner builds and runs without the CUDA toolkit or a driver.
#include <dlfcn.h>

#include <cstdio>
#include <cstring>
#include <map>

#include "core/json_io.h"
#include "core/units.h"
#include "topology/bounded_child.h"
#include "topology/probe.h"

namespace planner::topo {

namespace {

// ---- our declarations of the NVML ABI (nvml.h, stable since R450) ----
using nvmlReturn_t = int;
constexpr nvmlReturn_t NVML_SUCCESS = 0;
struct nvmlDevice_st;
using nvmlDevice_t = nvmlDevice_st*;
struct nvmlPciInfo_t {  // nvmlPciInfo_st, as filled by the _v3 / _v2 entry points
  char busIdLegacy[16];
  unsigned int domain;
  unsigned int bus;
  unsigned int device;
  unsigned int pciDeviceId;
  unsigned int pciSubSystemId;
  char busId[32];
};
struct nvmlMemory_t {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
constexpr int NVML_FEATURE_ENABLED = 1;
constexpr unsigned kMaxLinks = 18;  // NVML_NVLINK_MAX_LINKS (H100: 18 links)

struct NvmlApi {
  nvmlReturn_t (*init)() = nullptr;
  nvmlReturn_t (*shutdown)() = nullptr;
  const char* (*error_string)(nvmlReturn_t) = nullptr;
  nvmlReturn_t (*get_count)(unsigned int*) = nullptr;
  nvmlReturn_t (*get_handle)(unsigned int, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*get_name)(nvmlDevice_t, char*, unsigned int) = nullptr;
  nvmlReturn_t (*get_pci)(nvmlDevice_t, nvmlPciInfo_t*) = nullptr;
  nvmlReturn_t (*get_memory)(nvmlDevice_t, nvmlMemory_t*) = nullptr;
  nvmlReturn_t (*get_cc)(nvmlDevice_t, int*, int*) = nullptr;
  nvmlReturn_t (*link_state)(nvmlDevice_t, unsigned int, int*) = nullptr;
  nvmlReturn_t (*link_version)(nvmlDevice_t, unsigned int, unsigned int*) = nullptr;
  nvmlReturn_t (*link_remote_pci)(nvmlDevice_t, unsigned int, nvmlPciInfo_t*) = nullptr;
  nvmlReturn_t (*link_remote_type)(nvmlDevice_t, unsigned int, int*) = nullptr;
};

template <typename F>
void load(void* lib, const char* name, F& fn) {
  fn = reinterpret_cast<F>(::dlsym(lib, name));
}

std::string err(const NvmlApi& api, nvmlReturn_t rc) {
  const char* s = api.error_string ? api.error_string(rc) : nullptr;
  return s ? std::string(s) + " (" + std::to_string(rc) + ")" : "NVML error " + std::to_string(rc);
}

// Runs in the child: returns the report as JSON text.
Json query_in_child(const std::string& library) {
  Json out{{"loaded", false}, {"status", ""}, {"gpus", Json::array()}};
  void* lib = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* e = ::dlerror();
    out["status"] = "NVML not available (" + std::string(e ? e : library) + "): no NVLink information";
    return out;
  }
  NvmlApi api;
  load(lib, "nvmlInit_v2", api.init);
  load(lib, "nvmlShutdown", api.shutdown);
  load(lib, "nvmlErrorString", api.error_string);
  load(lib, "nvmlDeviceGetCount_v2", api.get_count);
  load(lib, "nvmlDeviceGetHandleByIndex_v2", api.get_handle);
  load(lib, "nvmlDeviceGetName", api.get_name);
  load(lib, "nvmlDeviceGetPciInfo_v3", api.get_pci);
  if (!api.get_pci) load(lib, "nvmlDeviceGetPciInfo_v2", api.get_pci);
  load(lib, "nvmlDeviceGetMemoryInfo", api.get_memory);
  load(lib, "nvmlDeviceGetCudaComputeCapability", api.get_cc);
  load(lib, "nvmlDeviceGetNvLinkState", api.link_state);
  load(lib, "nvmlDeviceGetNvLinkVersion", api.link_version);
  load(lib, "nvmlDeviceGetNvLinkRemotePciInfo_v2", api.link_remote_pci);
  load(lib, "nvmlDeviceGetNvLinkRemoteDeviceType", api.link_remote_type);
  if (!api.init || !api.get_count || !api.get_handle || !api.get_pci) {
    out["status"] = "NVML library " + library + " lacks nvmlInit_v2/nvmlDeviceGetCount_v2/nvmlDeviceGetHandleByIndex_v2/"
                    "nvmlDeviceGetPciInfo: driver too old; no NVLink information";
    return out;
  }
  nvmlReturn_t rc = api.init();
  if (rc != NVML_SUCCESS) {
    out["status"] = "NVML found but nvmlInit_v2 failed: " + err(api, rc) + "; no NVLink information";
    return out;
  }
  unsigned int count = 0;
  rc = api.get_count(&count);
  if (rc != NVML_SUCCESS) {
    out["status"] = "nvmlDeviceGetCount_v2 failed: " + err(api, rc) + "; no NVLink information";
    if (api.shutdown) api.shutdown();
    return out;
  }
  out["loaded"] = true;
  bool any_link_api = api.link_state && api.link_remote_pci;
  int total_links = 0;
  for (unsigned int i = 0; i < count; ++i) {
    nvmlDevice_t dev = nullptr;
    if (api.get_handle(i, &dev) != NVML_SUCCESS) continue;
    Json g{{"name", ""}, {"busid", ""}, {"memory_bytes", 0.0}, {"cc_major", 0}, {"cc_minor", 0}, {"links", Json::array()}};
    char name[96] = {0};
    if (api.get_name && api.get_name(dev, name, sizeof name) == NVML_SUCCESS) g["name"] = std::string(name);
    nvmlPciInfo_t pci{};
    if (api.get_pci(dev, &pci) == NVML_SUCCESS) g["busid"] = normalise_busid(pci.busId);
    nvmlMemory_t mem{};
    if (api.get_memory && api.get_memory(dev, &mem) == NVML_SUCCESS) g["memory_bytes"] = static_cast<double>(mem.total);
    int major = 0, minor = 0;
    if (api.get_cc && api.get_cc(dev, &major, &minor) == NVML_SUCCESS) {
      g["cc_major"] = major;
      g["cc_minor"] = minor;
    }
    if (any_link_api) {
      for (unsigned int l = 0; l < kMaxLinks; ++l) {
        int active = 0;
        if (api.link_state(dev, l, &active) != NVML_SUCCESS || active != NVML_FEATURE_ENABLED) continue;
        nvmlPciInfo_t remote{};
        if (api.link_remote_pci(dev, l, &remote) != NVML_SUCCESS) continue;
        int type = 255;
        if (api.link_remote_type && api.link_remote_type(dev, l, &type) != NVML_SUCCESS) type = 255;
        unsigned int version = 0;
        if (api.link_version && api.link_version(dev, l, &version) != NVML_SUCCESS) version = 0;
        g["links"].push_back({{"link", l}, {"remote_busid", normalise_busid(remote.busId)}, {"remote_type", type},
                              {"version", version}});
        ++total_links;
      }
    }
    out["gpus"].push_back(g);
  }
  if (api.shutdown) api.shutdown();
  out["status"] = "NVML (" + library + "): " + std::to_string(count) + " GPU(s), " + std::to_string(total_links) +
                  " active NVLink(s)" + (any_link_api ? "" : " (this driver has no NVLink queries)");
  return out;
}

}  // namespace

std::string normalise_busid(const std::string& busid) {
  unsigned domain = 0, bus = 0, dev = 0, fn = 0;
  if (std::sscanf(busid.c_str(), "%x:%x:%x.%x", &domain, &bus, &dev, &fn) == 4 ||
      (domain = 0, std::sscanf(busid.c_str(), "%x:%x.%x", &bus, &dev, &fn) == 3)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%01x", domain & 0xffff, bus, dev, fn);
    return buf;
  }
  return "";
}

NvmlReport query_nvml(const std::string& library, double timeout_s) {
  NvmlReport rep;
  ChildResult r = run_bounded_child(timeout_s, [&](int fd) {
    std::string text = query_in_child(library).dump();
    return write_all(fd, text.data(), text.size()) ? 0 : 1;
  });
  if (r.timed_out) {
    rep.status = "NVML did not answer within " + std::to_string(static_cast<int>(timeout_s)) +
                 " s (query killed): no NVLink information";
    return rep;
  }
  Json j;
  try {
    j = Json::parse(r.output);
  } catch (const std::exception&) {
    rep.status = "the NVML query failed (child exit status " + std::to_string(r.exit_code) + "): no NVLink information";
    return rep;
  }
  rep.loaded = j.value("loaded", false);
  rep.status = j.value("status", "");
  for (const auto& g : j["gpus"]) {
    NvmlGpu x;
    x.name = g.value("name", "");
    x.busid = g.value("busid", "");
    x.memory_bytes = g.value("memory_bytes", 0.0);
    x.cc_major = g.value("cc_major", 0);
    x.cc_minor = g.value("cc_minor", 0);
    for (const auto& l : g["links"]) {
      NvmlLink k;
      k.link = l.value("link", 0);
      k.remote_busid = l.value("remote_busid", "");
      k.remote_type = l.value("remote_type", 255);
      k.version = l.value("version", 0u);
      x.links.push_back(k);
    }
    rep.gpus.push_back(std::move(x));
  }
  return rep;
}

void merge_nvml(NodeTopology& t, const NvmlReport& r) {
  if (!r.loaded) {
    if (!t.nvlink_known) t.nvlink_status = r.status;
    return;
  }
  std::map<std::string, int> by_busid;
  for (size_t i = 0; i < t.gpus.size(); ++i)
    if (!t.gpus[i].busid.empty()) by_busid[t.gpus[i].busid] = static_cast<int>(i);
  std::vector<int> nvml_index(r.gpus.size(), -1);
  for (size_t k = 0; k < r.gpus.size(); ++k) {
    const NvmlGpu& n = r.gpus[k];
    auto it = by_busid.find(n.busid);
    int idx;
    if (it == by_busid.end()) {
      Gpu g;
      g.vendor = "NVIDIA";
      g.vendor_id = 0x10de;
      g.busid = n.busid;
      idx = static_cast<int>(t.gpus.size());
      t.gpus.push_back(g);
      if (!n.busid.empty()) by_busid[n.busid] = idx;
    } else {
      idx = it->second;
    }
    Gpu& g = t.gpus[static_cast<size_t>(idx)];
    if (!n.name.empty()) g.name = n.name;
    if (n.memory_bytes > 0) g.memory_bytes = n.memory_bytes;
    g.cc_major = n.cc_major;
    g.cc_minor = n.cc_minor;
    g.os_devices += (g.os_devices.empty() ? "" : " ") + std::string("nvml") + std::to_string(k);
    g.planned = true;  // NVML sees it: a usable NVIDIA GPU
    g.excluded_why.clear();
    g.nvlinks.clear();  // NVML's per-link view replaces hwloc's matrix
    nvml_index[k] = idx;
  }
  // NVIDIA GPUs hwloc saw that NVML does not: not usable from this process.
  for (auto& g : t.gpus)
    if (g.vendor_id == 0x10de && g.planned && g.os_devices.find("nvml") == std::string::npos) {
      g.planned = false;
      g.excluded_why = "NVML does not list it (hidden by CUDA_VISIBLE_DEVICES/cgroups, or no driver bound)";
    }
  for (size_t k = 0; k < r.gpus.size(); ++k) {
    Gpu& g = t.gpus[static_cast<size_t>(nvml_index[k])];
    // Per-link rate from the architecture (NVML's version enum has been reported inconsistently
    // across drivers; the compute capability is not ambiguous). Fallback: version 1 -> 20, 7 -> 50.
    double per_link = nvlink_per_link_Bps_for_cc(g.cc_major, g.cc_minor);
    std::string gen = nvlink_generation_for_cc(g.cc_major, g.cc_minor);
    std::map<std::string, NvLinkGroup> groups;  // by remote bus id (and kind)
    for (const auto& l : r.gpus[k].links) {
      double rate = per_link;
      if (rate <= 0) rate = l.version == 1 ? 20e9 : (l.version >= 7 ? 50e9 : (l.version > 0 ? 25e9 : 0));
      NvLinkGroup grp;
      auto peer = by_busid.find(l.remote_busid);
      if (l.remote_type == 0 || (l.remote_type == 255 && peer != by_busid.end())) {
        grp.remote_kind = "gpu";
        grp.remote_gpu = peer == by_busid.end() ? -1 : peer->second;
      } else if (l.remote_type == 2) {
        grp.remote_kind = "nvswitch";
      } else if (l.remote_type == 1) {
        grp.remote_kind = "cpu";
      } else {
        grp.remote_kind = "nvswitch";  // not a GPU of this node: NCCL treats it as the switch plane
      }
      grp.remote_busid = l.remote_busid;
      auto& acc = groups[grp.remote_kind + "/" + l.remote_busid];
      if (acc.remote_kind.empty()) acc = grp;
      acc.links += 1;
      acc.bw_Bps += rate;
      if (g.nvlink_per_link_Bps <= 0) g.nvlink_per_link_Bps = rate;
    }
    if (!gen.empty()) g.nvlink_generation = gen;
    for (auto& [key, grp] : groups) g.nvlinks.push_back(grp);
  }
  t.nvlink_known = true;
  t.nvlink_status = r.status;
}

}  // namespace planner::topo
