/* A fake libnvidia-ml for the tests: the NVML entry points the probe dlopens, answering from a
 * text file named by $FAKE_NVML_CONFIG, so the NVML path runs on machines without a GPU.
 *
 *   gpu <busid> <cc_major> <cc_minor> <memory_mib> <name...>
 *   link <gpu_index> <link_index> <remote_type: 0 GPU, 1 CPU, 2 NVSwitch> <remote_busid> <version>
 *   init_fails <nvml return code>     nvmlInit_v2 fails with it
 *   hang                              nvmlInit_v2 never returns (the probe must time out)
 *
 * Unknown GPU index, inactive link or link index out of range: NVML_ERROR_INVALID_ARGUMENT (2).
 */
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

extern "C" {

#define MAX_GPUS 64
#define MAX_LINKS 18

typedef struct {
  char busid[32];
  int cc_major, cc_minor;
  unsigned long long memory_bytes;
  char name[96];
  int link_active[MAX_LINKS];
  int link_type[MAX_LINKS];
  unsigned link_version[MAX_LINKS];
  char link_remote[MAX_LINKS][32];
} FakeGpu;

static FakeGpu gpus[MAX_GPUS];
static unsigned n_gpus = 0;
static int init_fails = 0;
static int hang = 0;
static int loaded = 0;

typedef struct {
  char busIdLegacy[16];
  unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
  char busId[32];
} PciInfo;

typedef struct {
  unsigned long long total, free, used;
} Memory;

static void load_config(void) {
  if (loaded) return;
  loaded = 1;
  const char* path = getenv("FAKE_NVML_CONFIG");
  FILE* f = path ? fopen(path, "r") : NULL;
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    char word[32];
    if (sscanf(line, "%31s", word) != 1) continue;
    if (strcmp(word, "gpu") == 0 && n_gpus < MAX_GPUS) {
      FakeGpu* g = &gpus[n_gpus];
      unsigned long long mib = 0;
      int used = 0;
      if (sscanf(line, "gpu %31s %d %d %llu %n", g->busid, &g->cc_major, &g->cc_minor, &mib, &used) >= 4) {
        g->memory_bytes = mib * 1024ull * 1024ull;
        strncpy(g->name, line + used, sizeof g->name - 1);
        g->name[strcspn(g->name, "\r\n")] = 0;
        ++n_gpus;
      }
    } else if (strcmp(word, "link") == 0) {
      unsigned gi, li, version;
      int type;
      char remote[32];
      if (sscanf(line, "link %u %u %d %31s %u", &gi, &li, &type, remote, &version) == 5 && gi < n_gpus && li < MAX_LINKS) {
        gpus[gi].link_active[li] = 1;
        gpus[gi].link_type[li] = type;
        gpus[gi].link_version[li] = version;
        strcpy(gpus[gi].link_remote[li], remote);
      }
    } else if (strcmp(word, "init_fails") == 0) {
      sscanf(line, "init_fails %d", &init_fails);
    } else if (strcmp(word, "hang") == 0) {
      hang = 1;
    }
  }
  fclose(f);
}

static void fill_pci(PciInfo* p, const char* busid) {
  memset(p, 0, sizeof *p);
  /* NVML writes an 8-digit domain: "00000000:34:00.0". */
  unsigned d = 0, b = 0, dev = 0, fn = 0;
  sscanf(busid, "%x:%x:%x.%x", &d, &b, &dev, &fn);
  snprintf(p->busId, sizeof p->busId, "%08x:%02x:%02x.%x", d, b, dev, fn);
  snprintf(p->busIdLegacy, sizeof p->busIdLegacy, "%04x:%02x:%02x.%x", d, b, dev, fn);
  p->domain = d;
  p->bus = b;
  p->device = dev;
}

static FakeGpu* dev(void* handle) {
  FakeGpu* g = static_cast<FakeGpu*>(handle);
  return (g >= gpus && g < gpus + n_gpus) ? g : NULL;
}

int nvmlInit_v2(void) {
  load_config();
  while (hang) sleep(1);
  return init_fails;
}
int nvmlShutdown(void) { return 0; }
const char* nvmlErrorString(int rc) { return rc == 0 ? "Success" : "Fake NVML error"; }
int nvmlDeviceGetCount_v2(unsigned int* count) {
  *count = n_gpus;
  return 0;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned int index, void** device) {
  if (index >= n_gpus) return 2;
  *device = &gpus[index];
  return 0;
}
int nvmlDeviceGetName(void* d, char* name, unsigned int length) {
  FakeGpu* g = dev(d);
  if (!g || length == 0) return 2;
  snprintf(name, length, "%s", g->name);
  return 0;
}
int nvmlDeviceGetPciInfo_v3(void* d, PciInfo* pci) {
  FakeGpu* g = dev(d);
  if (!g) return 2;
  fill_pci(pci, g->busid);
  return 0;
}
int nvmlDeviceGetMemoryInfo(void* d, Memory* m) {
  FakeGpu* g = dev(d);
  if (!g) return 2;
  m->total = g->memory_bytes;
  m->free = g->memory_bytes;
  m->used = 0;
  return 0;
}
int nvmlDeviceGetCudaComputeCapability(void* d, int* major, int* minor) {
  FakeGpu* g = dev(d);
  if (!g) return 2;
  *major = g->cc_major;
  *minor = g->cc_minor;
  return 0;
}
int nvmlDeviceGetNvLinkState(void* d, unsigned int link, int* active) {
  FakeGpu* g = dev(d);
  if (!g || link >= MAX_LINKS) return 2;
  *active = g->link_active[link];
  return 0;
}
int nvmlDeviceGetNvLinkVersion(void* d, unsigned int link, unsigned int* version) {
  FakeGpu* g = dev(d);
  if (!g || link >= MAX_LINKS || !g->link_active[link]) return 2;
  *version = g->link_version[link];
  return 0;
}
int nvmlDeviceGetNvLinkRemotePciInfo_v2(void* d, unsigned int link, PciInfo* pci) {
  FakeGpu* g = dev(d);
  if (!g || link >= MAX_LINKS || !g->link_active[link]) return 2;
  fill_pci(pci, g->link_remote[link]);
  return 0;
}
int nvmlDeviceGetNvLinkRemoteDeviceType(void* d, unsigned int link, int* type) {
  FakeGpu* g = dev(d);
  if (!g || link >= MAX_LINKS || !g->link_active[link]) return 2;
  *type = g->link_type[link];
  return 0;
}

}  // extern "C"
