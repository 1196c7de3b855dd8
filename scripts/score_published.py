#!/usr/bin/env python3
"""Score `planner simulate` on published GPU training measurements (tests/data/published/).

For every row of published-dev.csv: decide whether planner can express the run; if so, build the
`planner simulate` command (model JSON from the row's dimensions, a cluster preset, the split and
knobs), run it with --format json and compare the prediction with the measured metric.
Error = (predicted - measured) / measured.

    scripts/score_published.py --planner build/bin/planner
    scripts/score_published.py --planner build/bin/planner --json scorecard.json
    scripts/score_published.py --planner build/bin/planner --check tests/data/published/baseline.json
    scripts/score_published.py --planner build/bin/planner --write-baseline tests/data/published/baseline.json

Exit codes: 0 ok, 1 the check failed (a regression against the baseline), 2 bad input or a
planner error. Standard library only. docs/published-scorecard.md explains every mapping.
"""
import argparse
import concurrent.futures
import copy
import csv
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CSV = os.path.join(REPO, "tests", "data", "published", "published-dev.csv")
BASELINE_FORMAT = "planner-published-baseline/1"
SCORECARD_FORMAT = "planner-published-scorecard/1"
TOLERANCE_PP = 0.1  # a MAPE may grow by this many percentage points before --check fails

GIB = float(1 << 30)

# --------------------------------------------------------------------------------------------
# Mapping tables: one per CSV column. Each entry is (regex matched against the cell, what it
# maps to). The first match wins; a cell no entry matches makes the row not expressible
# ("no mapping for ..."), so a new kind of row fails closed instead of being guessed.
# --------------------------------------------------------------------------------------------

# Short names of the sources, keyed on the id prefix (the `source` column is a long citation).
SOURCES = [
    ("TTH100-", "torchtitan H100 (Dec 2024)"),
    ("TTA100-", "torchtitan A100 (mid-2024)"),
    ("KF-WS-", "KempnerForge weak scaling (held out)"),
    ("KF-", "KempnerForge H200"),
    ("MEG21-", "Megatron-LM 2021"),
    ("MEG22-", "Megatron-LM 2022"),
    ("LLMF-", "llm-foundry MPT"),
    ("IBM-", "IBM fms-fsdp"),
    ("LIGHTNING-", "Lightning TP example"),
]

# Documented assumptions, cited by code in the per-row `assumptions` column.
ASSUMPTIONS = {
    "sxm": "the GPU column does not say SXM or PCIe: the SXM preset is used",
    "a100-80gb": "A100 memory size not stated by the source: 80 GB as the row assumes",
    "gpu-not-stated": "GPU not stated: a memory-only row, priced on a100-80gb-sxm (every GPU preset has "
                      "the same runtime reserve, 1 GiB, and allocator fragmentation, 0.05; only the "
                      "capacity, i.e. feasibility, depends on it)",
    "node-size": "the row's nodes hold another number of GPUs than the preset's: a cluster file = the preset as "
                 "planner prints it with the row's gpus_per_node (its inter-node bandwidth per GPU kept unless "
                 "kf-nics says otherwise)",
    "op-sac": "torchtitan's op-level selective AC (its _save_list and _custom_policy: mm, SDPA and "
              "reduce-scatter outputs saved except every second mm of a block, the rest recomputed): "
              "--selective-ac torchtitan-op",
    "op-level-assumed": "the source does not state torchtitan's selective AC mode: op-level, as the row "
                        "notes assume",
    "reduce-fp32": "the run stores params, grads and AdamW states in bf16 but reduce-scatters in fp32 "
                   "(FSDP2 reduce_dtype): --precision bf16 --reduce-dtype fp32",
    "reduce-bf16": "fp32 master weights and AdamW states but gradients reduced in bf16 (fms-fsdp's "
                   "bfSixteen policy in fms_fsdp/policies/mixed_precision.py, read at a later commit than the "
                   "row's; Composer's PURE): --precision bf16-mixed --reduce-dtype bf16",
    "16-bit": "16-bit mixed precision (fp16 or bf16 not stated; fp32 master weights) priced as bf16-mixed: "
              "the same tensor-core rate and bytes; fp16 loss scaling is not modelled",
    "fsdp1": "FSDP1 (flat parameters per wrapped block) priced as FSDP2 (per-parameter sharding, "
             "one unit per block)",
    "no-fsdp-dp1": "dp = 1 and FSDP2 not applied: planner's fsdp2 runtime does not wrap the model at "
                   "dp = 1 either (no gathered or unsharded-gradient buffers)",
    "reshard-default": "reshard after forward not stated: on (FSDP2's and FSDP1 FULL_SHARD's default)",
    "reshard-last-block": "the run keeps the last block gathered after forward; planner reshards every "
                          "block (it keeps only the root unit gathered)",
    "logits-replicated": "the example's TP plan gathers the output layer's logits to the full vocabulary "
                         "(ColwiseParallel(output_layouts=Replicate()) in examples/pytorch/tensor_parallel/"
                         "parallelism.py, read at a later commit than the row's): --loss-parallel off",
    "kf-tp-plan": "KempnerForge's TP plan (kempnerforge/distributed/tensor_parallel.py, read at a later "
                  "commit than the row's) keeps the token embedding replicated and gathers the output head's "
                  "logits to the full vocabulary for the loss (no loss parallel), and gives each colwise Linear "
                  "its own ColwiseParallel(input_layouts=Shard(1)) with no PrepareModuleInput, so each of "
                  "q/k/v_proj and gate/up_proj all-gathers its own input (and reduce-scatters its input "
                  "gradient): --loss-parallel off --shard-embedding off --tp-input-gather per-linear",
    "kf-nics": "KempnerForge's 4-GPU H200 nodes (Kempner cluster, kempner_h200 partition, non-blocking "
               "NDR 400 Gb/s InfiniBand) are priced with two 400 Gb/s NICs per node, 25 GB/s per GPU. No source "
               "states the NIC count. It is the only whole NIC count the inter-node rows agree with: one NIC per "
               "GPU (50 GB/s) puts the 7 inter-node TP rows at +4.9..+45.2%, one NIC per node (12.5 GB/s) at "
               "-6.3..-47.2%, two at -2.2..+10.1% (docs/published-scorecard.md, \"Inter-node bandwidth of the "
               "KF rows\")",
    "kf-loss": "KempnerForge's loss (kempnerforge/training/loss.py cross_entropy, model/embedding.py "
               "OutputHead, training/loop.py text_step, read at later commits than the rows') is "
               "F.cross_entropy on the output head's bf16 logits, with no .float() and the logits kept by the "
               "loop through backward: --loss-dtype compute",
    "hgx-4gpu-mesh": "nodes of 4 SXM GPUs are HGX 4-GPU boards, which have no NVSwitch: each GPU's 18 "
                     "NVLink4 links are split 6 to each of its 3 peers, so a group of k GPUs in a node gets "
                     "(k - 1) / 3 of the preset's 450 GB/s per direction (intra_node_fabric mesh)",
    "batch-no-ga": "global batch assumes no gradient accumulation (as the row states)",
    "sp-off": "tp > 1 and sequence parallel not stated: off",
}

# The 8-GPU presets whose GPUs sit behind NVSwitch (a 4-GPU board of the same GPU has none).
SXM_SWITCH_PRESETS = {"h100-sxm", "h200-sxm", "a100-80gb-sxm", "a100-40gb-sxm"}

# gpu column -> (preset, assumption codes, memory_only). preset None: not expressible (reason).
GPU_TABLE = [
    (r"^H100 SXM 96GB HBM2e", None,
     "unknown GPU SKU: H100 96 GB HBM2e at a 500 W power limit (Grand Teton); h100-sxm is the 80 GB "
     "HBM3, 700 W part (other memory capacity and bandwidth, other clocks) and no preset or measured "
     "profile describes this one"),
    (r"^H200 SXM 141GB$", ("h200-sxm", [], False), None),
    (r"^H100 80GB$", ("h100-sxm", ["sxm"], False), None),
    (r"^A100 SXM4 80GB", ("a100-80gb-sxm", [], False), None),
    (r"^A100 80GB$", ("a100-80gb-sxm", ["sxm"], False), None),
    (r"^A100 40GB$", ("a100-40gb-sxm", ["sxm"], False), None),
    (r"^A100 \(80GB assumed\)$", ("a100-80gb-sxm", ["sxm", "a100-80gb"], False), None),
    (r"^not stated", ("a100-80gb-sxm", ["gpu-not-stated"], True), None),
]

# model column -> model family. Only Llama blocks are modelled.
MODEL_FAMILY_TABLE = [
    (r"^GPT ", None,
     "GPT-style model (LayerNorm, GELU MLP of 2 matrices, biases, learned position embeddings): "
     "planner models Llama blocks only (RMSNorm, SwiGLU MLP of 3 matrices, RoPE, no biases)"),
    (r"^MPT-", None,
     "MPT model (LayerNorm, GELU MLP of 2 matrices with ffn = 4h, its own position embedding): "
     "planner models Llama blocks only (RMSNorm, SwiGLU MLP of 3 matrices, RoPE)"),
    (r"Llama", "llama", None),
]

# precision column -> (--precision, assumption codes) or None with the reason.
# `compile` comes from the same column (COMPILE_TABLE below).
PRECISION_TABLE = [
    (r"float8|fp8|FP8", None, "FP8 linears (torchao float8): planner has no fp8 compute or fp8 all-gather model"),
    (r"^bf16 mixed \(FSDP2 MixedPrecisionPolicy\)", ("bf16-mixed", []), None),
    (r"^bf16 mixed \(no torch\.compile\)|^bf16 mixed \+ torch\.compile", ("bf16-mixed", []), None),
    (r"^bf16 mixed \(FSDP1\)", ("bf16-mixed", ["reduce-bf16"]), None),
    (r"^bf16 master params/grads/AdamW states.*reduce_dtype fp32", ("bf16", ["reduce-fp32"]), None),
    (r"^fp32 master params/grads/AdamW.*bf16 compute, fp32 reduce", ("bf16-mixed", []), None),
    # Composer's FSDP mixed_precision (composer/trainer/dist_strategy.py): PURE = bf16 params, bf16
    # reduce and buffers over fp32 master weights in every version; DEFAULT changed between versions.
    (r"^amp_bf16 \(DEFAULT\)", None,
     "Composer FSDP mixed_precision DEFAULT changed between Composer versions (older: fp32 params with a "
     "bf16 reduce; later: bf16 params with an fp32 reduce) and the row does not pin the version"),
    (r"^bf16 \(PURE\)", ("bf16-mixed", ["reduce-bf16"]), None),
    (r"^16-bit mixed precision$", ("bf16-mixed", ["16-bit"]), None),
]

# precision column -> torch.compile used?
COMPILE_TABLE = [
    (r"no torch\.compile|no compile", False),
    (r"torch\.compile", True),
    (r".", False),  # not mentioned: eager
]

# activation_ckpt column -> (--ac, assumption codes) or None with the reason.
AC_TABLE = [
    (r"^none$", ("none", []), None),
    (r"^full", ("full", []), None),
    (r"^selective \(layer\)$", None,
     "torchtitan layer-level selective AC (every N-th block fully checkpointed, the others not): "
     "planner has no per-block AC frequency"),
    (r"^selective \(op\)$", ("selective", ["op-sac"]), None),
    (r"^selective \(torchtitan default for 8B toml; op-level assumed\)$",
     ("selective", ["op-sac", "op-level-assumed"]), None),
    (r"^selective \(attention core only\)|^selective \+ sequence parallelism", None,
     "Megatron selective recompute (the attention core QK^T/softmax/attention-over-V is recomputed, "
     "linear outputs kept): planner's --ac selective keeps the attention outputs and recomputes norms "
     "and elementwise ops instead"),
]

# fsdp_or_zero column -> (--reshard-after-forward, assumption codes, kind) or None with the reason.
FSDP_TABLE = [
    (r"^HSDP", None,
     "HSDP (shard inside a node, replicate across nodes): planner's FSDP shards over every dp rank "
     "and has no replicate dimension"),
    (r"^none \(DDP all-reduce\)$", ("ddp", [], "ddp"), None),  # only expressible when dp = 1
    (r"^none \(dp=1\)$", ("on", [], "none"), None),
    (r"^none \(dp_shard=1, FSDP2 skipped\)$", ("on", ["no-fsdp-dp1"], "none"), None),
    (r"^FSDP2 full shard \(reshard after forward\)$", ("on", [], "fsdp2"), None),
    (r"^FSDP2 full shard \(dp_shard=\d+\)$", ("on", ["reshard-default"], "fsdp2"), None),
    (r"^FSDP2 full shard$", ("on", ["reshard-default"], "fsdp2"), None),
    (r"^FSDP2 fully_shard per block \(reshard_after_forward except last block\)$",
     ("on", ["reshard-last-block"], "fsdp2"), None),
    (r"^FSDP1 FULL_SHARD$|^FSDP1 full shard over \d+$", ("on", ["fsdp1"], "fsdp1"), None),
]

# What is known about a source's code that no column says: (id prefix, smallest tp it applies to,
# assumption codes).
SOURCE_ASSUMPTIONS = [
    ("LIGHTNING-PL-", 2, ["logits-replicated"]),
    ("KF-", 2, ["kf-tp-plan"]),
    ("KF-", 1, ["kf-loss"]),
]

# measured_metric -> how the prediction is read. `kind`: speed or memory (which MAPE it enters).
METRICS = {
    "throughput_per_gpu": {"kind": "speed", "desc": "tokens/s per GPU vs throughput.tokens_per_s_per_gpu"},
    "throughput_total": {"kind": "speed",
                         "desc": "job tokens/s divided by gpus_total vs throughput.tokens_per_s_per_gpu"},
    "peak_memory_reserved": {"kind": "memory",
                             "desc": "max_memory_reserved vs memory.total_bytes (peak allocated + allocator "
                                     "reserve + runtime reserve)"},
    "peak_memory_allocated": {"kind": "memory", "desc": "max_memory_allocated vs memory.peak_allocated_bytes"},
    "tflops_per_gpu_incl_recompute": {"kind": "speed",
                                      "desc": "Megatron Eq. 3 FLOPs per step, 96 B s l h^2 (1 + s/6h + V/16lh), "
                                              "over the predicted step_s and the GPUs"},
    "tflops_per_gpu_model": {"kind": "speed", "desc": "throughput.model_tflops_per_gpu (6N + 12 L H d s)"},
    "iteration_time": {"kind": "speed", "desc": "seconds per optimizer step vs time.step_s"},
    "mfu": {"kind": "speed", "desc": "percent vs 100 x throughput.mfu (planner's 6N + 12 L H d s over the preset's "
                                     "dense bf16 peak)"},
}
UNEXPRESSIBLE_METRICS = {
    "tflops_per_gpu": "FLOP convention not stated by the source",
}

# measured_unit -> bytes per unit (memory metrics).
MEMORY_UNITS = {"GiB": GIB, "GB (1e9 bytes)": 1e9}


def first_match(table, cell):
    for entry in table:
        if re.search(entry[0], cell):
            return entry
    return None


def map_column(table, r, column, row):
    """The value a mapping table gives the row's `column` cell; None, with the row's reason added,
    when no entry matches or the matching entry says the cell is not expressible."""
    entry = first_match(table, r[column])
    if entry is None:
        row.reasons.append("no mapping for %s '%s'" % (column, r[column]))
        return None
    if entry[1] is None:
        row.reasons.append(entry[2])
        return None
    return entry[1]


def source_of(row_id, fallback):
    for prefix, name in SOURCES:
        if row_id.startswith(prefix):
            return name
    return fallback


def parse_conf(notes):
    m = re.match(r"\s*\[conf:(high|medium|low)\]", notes)
    return m.group(1) if m else "unknown"


def to_int(cell):
    cell = cell.strip()
    if not cell:
        return None
    try:
        return int(cell)
    except ValueError:
        return None


def parse_global_batch(cell, seq_len):
    """'16 seqs', '8 seqs (32768 tokens)', '256 seqs (assuming ...)', 'N tokens' -> (seqs, codes)."""
    cell = cell.strip()
    m = re.match(r"^(\d+) seqs\b(.*)$", cell)
    if m:
        codes = ["batch-no-ga"] if "assuming no grad accumulation" in m.group(2) else []
        return int(m.group(1)), codes
    m = re.match(r"^(\d+) tokens$", cell)
    if m and seq_len and int(m.group(1)) % seq_len == 0:
        return int(m.group(1)) // seq_len, []
    return None, []


class Row:
    """One CSV row and what the scorer made of it."""

    def __init__(self, raw):
        self.raw = raw
        self.id = raw["id"]
        self.source = source_of(self.id, raw["source"])
        self.conf = parse_conf(raw["notes"])
        self.metric = raw["measured_metric"]
        self.unit = raw["measured_unit"]
        self.measured_raw = float(raw["measured_value"])
        self.reasons = []       # why not expressible (all of them)
        self.assumptions = []   # codes into ASSUMPTIONS
        self.args = None        # planner simulate arguments (model/cluster files as placeholders)
        self.model_json = None
        self.tight = False  # feasible only without the allocator reserve
        self.cluster_derive = None  # (preset, gpus_per_node) when a cluster file is needed
        self.gpus = to_int(raw["gpus_total"])
        self.status = None      # ok | infeasible | not expressible | error
        self.detail = ""
        self.measured = None    # in the compared unit
        self.predicted = None
        self.error = None
        self.speed_error = None  # the error as a throughput error (speed rows; iteration_time inverted)

    def assume(self, *codes):
        for c in codes:
            if c not in self.assumptions:
                self.assumptions.append(c)


def decide(row, preset_gpn):
    """Fill row.reasons or row.args/model_json/cluster_derive."""
    r = row.raw
    ints = {k: to_int(r[k]) for k in ("layers", "hidden", "ffn_hidden", "heads", "kv_heads", "vocab",
                                      "seq_len", "micro_batch", "gpus_total", "gpus_per_node", "dp", "tp", "pp", "cp")}
    # Metric
    if row.metric in UNEXPRESSIBLE_METRICS:
        row.reasons.append("metric " + row.metric + ": " + UNEXPRESSIBLE_METRICS[row.metric])
    elif row.metric not in METRICS:
        row.reasons.append("no mapping for measured_metric '" + row.metric + "'")
    elif METRICS[row.metric]["kind"] == "memory" and row.unit not in MEMORY_UNITS:
        row.reasons.append("no mapping for memory unit '" + row.unit + "'")
    # Parallelism planner does not have
    if ints["pp"] is None or ints["pp"] > 1:
        row.reasons.append("pipeline parallel pp = %s: planner has no pipeline parallelism" % r["pp"])
    if ints["cp"] is None or ints["cp"] > 1:
        row.reasons.append("context parallel cp = %s: planner has no context parallelism" % r["cp"])
    # Model family
    map_column(MODEL_FAMILY_TABLE, r, "model", row)
    # GPU
    gpu = map_column(GPU_TABLE, r, "gpu", row)
    preset = None
    if gpu is not None:
        preset, codes, memory_only = gpu
        if memory_only and row.metric in METRICS and METRICS[row.metric]["kind"] != "memory":
            row.reasons.append("GPU not stated: a speed metric needs the GPU")
        row.assume(*codes)
    # Precision and compile
    prec = map_column(PRECISION_TABLE, r, "precision", row)
    precision = None
    if prec is not None:
        precision, codes = prec
        if "reduce-fp32" in codes or "reduce-bf16" in codes:
            if ints["dp"] is not None and ints["dp"] > 1:
                row.assume(*codes)  # with dp = 1 nothing is reduced: the policies agree
        else:
            row.assume(*codes)
    compiled = first_match(COMPILE_TABLE, r["precision"])[1]
    # Activation checkpointing
    ac_entry = map_column(AC_TABLE, r, "activation_ckpt", row)
    ac = None
    if ac_entry is not None:
        ac, codes = ac_entry
        row.assume(*codes)
    # Data parallelism flavour
    fs = map_column(FSDP_TABLE, r, "fsdp_or_zero", row)
    reshard = None
    if fs is not None:
        reshard, codes, kind = fs
        if kind == "ddp":
            if ints["dp"] is not None and ints["dp"] > 1:
                row.reasons.append("DDP (replicated params, grads and optimizer states, gradient all-reduce): "
                                   "planner prices FSDP (sharded states, all-gather + reduce-scatter)")
            reshard = "on"
        row.assume(*codes)
    # Sizes
    for k in ("layers", "hidden", "ffn_hidden", "heads", "kv_heads", "vocab", "seq_len", "gpus_total",
              "gpus_per_node", "dp", "tp"):
        if ints[k] is None:
            row.reasons.append(k + " not given")
    if ints["micro_batch"] is None:
        row.reasons.append("micro_batch not given")
    gb, codes = parse_global_batch(r["global_batch_tokens_or_seqs"], ints["seq_len"])
    if gb is None:
        row.reasons.append("global batch not given ('%s')" % r["global_batch_tokens_or_seqs"])
    row.assume(*codes)
    for prefix, min_tp, codes in SOURCE_ASSUMPTIONS:
        if row.id.startswith(prefix) and (ints["tp"] or 1) >= min_tp:
            row.assume(*codes)
    if row.reasons:
        return
    dp, tp, mb, G, g = ints["dp"], ints["tp"], ints["micro_batch"], ints["gpus_total"], ints["gpus_per_node"]
    if dp * tp != G:
        row.reasons.append("dp(%d) * tp(%d) != gpus_total(%d)" % (dp, tp, G))
        return
    if ints["hidden"] % ints["heads"] != 0:
        row.reasons.append("hidden is not a multiple of heads")
        return
    # Cluster: the preset's own node size, a partial node, or a cluster file with the row's node size.
    pg = preset_gpn[preset]
    if g == pg and G % g == 0:
        cluster = ["--cluster", preset, "--nodes", str(G // g)]
    elif g == pg and G < g:
        cluster = ["--cluster", preset, "--gpus", str(G)]  # one partial node
    elif G % g == 0 or G < g:
        # The row's nodes hold another number of GPUs: a cluster file with its node size. Four
        # SXM GPUs per node are an HGX 4-GPU board, which has no NVSwitch.
        mesh = g == 4 and pg == 8 and preset in SXM_SWITCH_PRESETS and "gpu-not-stated" not in row.assumptions
        # KempnerForge's inter-node bandwidth per GPU: two NICs per 4-GPU node (assumption kf-nics).
        nic_GBps = 25.0 if row.id.startswith("KF-") and G > g else None
        row.cluster_derive = (preset, g, mesh, nic_GBps)
        row.assume("node-size", *(["hgx-4gpu-mesh"] if mesh else []), *(["kf-nics"] if nic_GBps else []))
        cluster = ["--cluster", "{cluster}"] + (["--nodes", str(G // g)] if G >= g else ["--gpus", str(G)])
    else:
        row.reasons.append("gpus_total %d is not a whole number of %d-GPU nodes" % (G, g))
        return
    # Sequence parallel and gradient sync, from the row's notes
    sp_said = re.search(r"sequence.parallel", r["notes"] + " " + r["activation_ckpt"], re.I) is not None
    sp = "on" if tp > 1 and sp_said else "off"
    if tp > 1 and not sp_said:
        row.assume("sp-off")
    ga = gb // (dp * mb) if dp * mb else 0
    # The reduce dtype and the TP plan's vocabulary ends, from the assumptions that name them.
    extra = []
    if "reduce-fp32" in row.assumptions:
        extra += ["--reduce-dtype", "fp32"]
    if "reduce-bf16" in row.assumptions:
        extra += ["--reduce-dtype", "bf16"]
    if "logits-replicated" in row.assumptions or "kf-tp-plan" in row.assumptions:
        extra += ["--loss-parallel", "off"]
    if "kf-tp-plan" in row.assumptions:
        extra += ["--shard-embedding", "off", "--tp-input-gather", "per-linear"]
    if "kf-loss" in row.assumptions:
        extra += ["--loss-dtype", "compute"]
    if "op-sac" in row.assumptions:
        extra += ["--selective-ac", "torchtitan-op"]
    grad_sync = "last" if re.search(r"set_requires_gradient_sync\(False\)", r["notes"]) else "every"
    row.model_json = {
        "name": r["model"], "kind": "llama", "dim": ints["hidden"], "ffn_hidden": ints["ffn_hidden"],
        "n_layers": ints["layers"], "n_heads": ints["heads"], "n_kv_heads": ints["kv_heads"],
        "head_dim": ints["hidden"] // ints["heads"], "vocab_size": ints["vocab"],
        "tie_word_embeddings": False,
    }
    row.args = (["--model", "{model}"] + cluster +
                ["--dp", str(dp), "--tp", str(tp), "--micro-batch", str(mb), "--seq-len", str(ints["seq_len"]),
                 "--global-batch", str(gb), "--ac", ac, "--precision", precision, "--sp", sp,
                 "--reshard-after-forward", reshard, "--grad-sync", grad_sync] +
                (["--compile"] if compiled else []) + extra)
    row.ga = ga


def run_planner(planner, args):
    p = subprocess.run([planner, "simulate"] + args + ["--format", "json"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True)
    if p.returncode not in (0, 1):
        return None, (p.stderr.strip() or p.stdout.strip() or "exit %d" % p.returncode)
    try:
        return json.loads(p.stdout), None
    except ValueError:
        return None, (p.stderr.strip() or "exit %d, no JSON" % p.returncode)


def preset_cluster(planner, preset):
    """The preset as planner describes it (planner-cluster/1 JSON)."""
    j, err = run_planner(planner, ["--model", "feedforward", "--cluster", preset, "--tp", "1"])
    if j is None:
        raise SystemExit("score_published: cannot read preset %s from planner: %s" % (preset, err))
    return j["cluster"]


def megatron_eq3_flops(raw, gb):
    """Megatron-LM 2021 Eq. 3: FLOPs per iteration with activation recomputation."""
    B, s, l, h, V = gb, int(raw["seq_len"]), int(raw["layers"]), int(raw["hidden"]), int(raw["vocab"])
    return 96.0 * B * s * l * h * h * (1.0 + s / (6.0 * h) + V / (16.0 * l * h))


def compare(row, pred):
    """Read the prediction in the row's metric. Sets measured, predicted, error, speed_error."""
    m = row.metric
    th, tm, mem = pred.get("throughput"), pred.get("time"), pred.get("memory")
    if th is None:
        return False
    meas = row.measured_raw
    if m == "throughput_per_gpu":
        value = th["tokens_per_s_per_gpu"]
    elif m == "throughput_total":
        meas = row.measured_raw / row.gpus
        value = th["tokens_per_s_per_gpu"]
    elif m == "peak_memory_reserved":
        value = mem["total_bytes"] / MEMORY_UNITS[row.unit]
    elif m == "peak_memory_allocated":
        value = mem["peak_allocated_bytes"] / MEMORY_UNITS[row.unit]
    elif m == "tflops_per_gpu_incl_recompute":
        gb = int(pred["_gb"])
        value = megatron_eq3_flops(row.raw, gb) / tm["step_s"] / row.gpus / 1e12
    elif m == "tflops_per_gpu_model":
        value = th["model_tflops_per_gpu"]
    elif m == "iteration_time":
        value = tm["step_s"]
    elif m == "mfu":
        value = 100.0 * th["mfu"]
    else:
        return False
    row.measured, row.predicted = meas, value
    row.error = (value - meas) / meas
    if METRICS[m]["kind"] == "speed":
        row.speed_error = (meas / value - 1.0) if m == "iteration_time" else row.error
    return True


def score(planner, csv_path, work_dir):
    with open(csv_path, newline="") as f:
        rows = [Row(r) for r in csv.DictReader(f)]
    presets = sorted({e[1][0] for e in GPU_TABLE if e[1] is not None})
    preset_json = {p: preset_cluster(planner, p) for p in presets}
    preset_gpn = {p: int(preset_json[p]["gpus_per_node"]) for p in presets}
    pending = []
    for row in rows:
        decide(row, preset_gpn)
        if row.reasons:
            row.status = "not expressible"
            row.detail = "; ".join(row.reasons)
            continue
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", row.id)
        model_path = os.path.join(work_dir, safe + ".model.json")
        with open(model_path, "w") as f:
            json.dump(row.model_json, f, indent=2, sort_keys=True)
            f.write("\n")
        cluster_path = None
        if row.cluster_derive:
            preset, g, mesh, nic_GBps = row.cluster_derive
            c = copy.deepcopy(preset_json[preset])  # inter_node may change
            c["gpus_per_node"] = g
            c["name"] = "%s, %d GPUs per node" % (preset, g)
            if mesh:
                c["intra_node_fabric"] = "mesh"
                c["name"] += ", NVLink mesh"
                c["intra_node"]["name"] = c["intra_node"]["name"].replace("(NVSwitch)", "(mesh)")
            if nic_GBps:
                c["inter_node"]["bw_GBps"] = nic_GBps
                c["inter_node"]["name"] = "NDR InfiniBand 400 Gb/s, 2 NICs per %d-GPU node" % g
                c["name"] += ", 2 NICs"
            cluster_path = os.path.join(work_dir, "%s-%dgpn%s%s.cluster.json" %
                                        (preset, g, "-mesh" if mesh else "", "-2nic" if nic_GBps else ""))
            with open(cluster_path, "w") as f:
                json.dump(c, f, indent=2, sort_keys=True)
                f.write("\n")
        args = [a.replace("{model}", model_path).replace("{cluster}", cluster_path or "") for a in row.args]
        row.command = ("planner simulate " + " ".join(shlex.quote(a) for a in args) +
                       " --format json").replace(work_dir, "$WORK")
        pending.append((row, args))
    # The simulate calls are independent (a few ms each): run them side by side.
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda t: run_planner(planner, t[1]), pending))
    for (row, args), (pred, err) in zip(pending, results):
        if pred is None:
            row.status = "error"
            row.detail = err
            continue
        pred["_gb"] = args[args.index("--global-batch") + 1]
        row.status = "ok" if pred["feasible"] else "infeasible"
        if not pred["feasible"]:
            row.detail = "%s: %s" % (pred.get("limit", "?"), pred.get("reason", ""))
        # Feasible, but only if the caching allocator gives back its reserve (memory.tight).
        row.tight = bool(pred.get("memory", {}).get("tight"))
        compare(row, pred)
    rows.sort(key=lambda r: (r.source, r.id))
    return rows


def mape(errors):
    return 100.0 * sum(abs(e) for e in errors) / len(errors) if errors else None


def mean(errors):
    return 100.0 * sum(errors) / len(errors) if errors else None


def summarize(rows):
    def block(rs):
        counted = [r for r in rs if r.conf in ("high", "medium")]
        speed = [r.speed_error for r in counted if r.speed_error is not None]
        memory = [r.error for r in counted if r.error is not None and METRICS[r.metric]["kind"] == "memory"]
        return {
            "rows": len(rs),
            "expressible": sum(1 for r in rs if r.status in ("ok", "infeasible", "error")),
            "infeasible": sum(1 for r in rs if r.status == "infeasible"),
            "errors": sum(1 for r in rs if r.status == "error"),
            "throughput_rows": len(speed),
            "throughput_mape_pct": mape(speed),
            "throughput_mean_error_pct": mean(speed),
            "memory_rows": len(memory),
            "memory_mape_pct": mape(memory),
            "memory_mean_error_pct": mean(memory),
        }

    sources = sorted({r.source for r in rows})
    return {
        "overall": block(rows),
        "per_source": {s: block([r for r in rows if r.source == s]) for s in sources},
    }


def fmt_num(x):
    if x is None:
        return "-"
    if abs(x) >= 100:
        return "%.0f" % x
    if abs(x) >= 10:
        return "%.1f" % x
    return "%.3g" % x


def fmt_pct(x, signed=True):
    if x is None:
        return "-"
    return ("%+.1f%%" if signed else "%.1f%%") % x


def print_report(rows, summary, show_commands):
    out = []
    out.append("Per row (error = (predicted - measured) / measured; MAPEs count conf high and medium rows)")
    hdr = "%-38s %-26s %-6s %-30s %10s %10s %-13s %8s  %s" % (
        "id", "source", "conf", "metric", "measured", "predicted", "unit", "error", "status / assumptions")
    out.append(hdr)
    out.append("-" * len(hdr))
    for r in rows:
        unit = "tokens/s/GPU" if r.metric == "throughput_total" else r.unit
        if r.status in ("ok", "infeasible"):
            status = ("tight" if r.tight else "ok") if r.status == "ok" else "INFEASIBLE: " + r.detail
            if r.assumptions:
                status += "  [" + ", ".join(r.assumptions) + "]"
            err = "%+.1f%%" % (100 * r.error) if r.error is not None else "-"
            out.append("%-38s %-26s %-6s %-30s %10s %10s %-13s %8s  %s" % (
                r.id, r.source, r.conf, r.metric, fmt_num(r.measured), fmt_num(r.predicted), unit[:13], err, status))
        else:
            label = "not expressible: " if r.status == "not expressible" else "PLANNER ERROR: "
            out.append("%-38s %-26s %-6s %-30s %10s %10s %-13s %8s  %s" % (
                r.id, r.source, r.conf, r.metric, fmt_num(r.measured_raw), "-", r.unit[:13], "-", label + r.detail))
        if show_commands and getattr(r, "command", None):
            out.append("    " + r.command)
    used = sorted({a for r in rows if r.status in ("ok", "infeasible") for a in r.assumptions})
    if used:
        out.append("")
        out.append("Assumptions (codes in the last column)")
        for a in used:
            out.append("  %-20s %s" % (a, ASSUMPTIONS[a]))
    out.append("")
    out.append("Per source (throughput: speed metrics as a throughput error; MAPE = mean |error|, bias = mean error)")
    hdr = "%-26s %5s %6s %6s %5s %14s %9s %14s %9s" % (
        "source", "rows", "expr.", "infeas", "err", "tput MAPE (n)", "tput bias", "mem MAPE (n)", "mem bias")
    out.append(hdr)
    out.append("-" * len(hdr))

    def line(name, b):
        tp = "-" if b["throughput_mape_pct"] is None else "%.1f%% (%d)" % (b["throughput_mape_pct"], b["throughput_rows"])
        mm = "-" if b["memory_mape_pct"] is None else "%.1f%% (%d)" % (b["memory_mape_pct"], b["memory_rows"])
        return "%-26s %5d %6d %6d %5d %14s %9s %14s %9s" % (
            name, b["rows"], b["expressible"], b["infeasible"], b["errors"], tp, fmt_pct(b["throughput_mean_error_pct"]),
            mm, fmt_pct(b["memory_mean_error_pct"]))

    for s, b in summary["per_source"].items():
        out.append(line(s, b))
    out.append(line("all", summary["overall"]))
    o = summary["overall"]
    out.append("")
    out.append("Throughput MAPE: %s over %d rows; memory MAPE: %s over %d rows; expressible rows: %d of %d; "
               "expressible rows called infeasible: %d" % (
                   fmt_pct(o["throughput_mape_pct"], False), o["throughput_rows"],
                   fmt_pct(o["memory_mape_pct"], False), o["memory_rows"], o["expressible"], o["rows"],
                   o["infeasible"]))
    print("\n".join(out))


def print_markdown(rows, summary):
    """The per-source table, the per-row errors and the unexpressible rows as Markdown (for the docs)."""
    out = ["| source | rows | expressible | called infeasible | throughput MAPE (rows) | throughput bias | "
           "memory MAPE (rows) | memory bias |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]

    def cell(m, n):
        return "-" if m is None else "%.1f%% (%d)" % (m, n)

    items = list(summary["per_source"].items()) + [("**all**", summary["overall"])]
    for s, b in items:
        out.append("| %s | %d | %d | %d | %s | %s | %s | %s |" % (
            s, b["rows"], b["expressible"], b["infeasible"], cell(b["throughput_mape_pct"], b["throughput_rows"]),
            fmt_pct(b["throughput_mean_error_pct"]), cell(b["memory_mape_pct"], b["memory_rows"]),
            fmt_pct(b["memory_mean_error_pct"])))
    out.append("")
    out.append("| id | conf | metric | measured | predicted | error | assumptions |")
    out.append("| --- | --- | --- | ---: | ---: | ---: | --- |")
    for r in rows:
        if r.status in ("ok", "infeasible"):
            unit = "tokens/s/GPU" if r.metric == "throughput_total" else r.unit
            err = "%+.1f%%" % (100 * r.error)
            if r.status == "infeasible":
                err += " (called infeasible: %s)" % r.detail
            elif r.tight:
                err += " (tight: fits only without the allocator reserve)"
            out.append("| %s | %s | %s | %s %s | %s | %s | %s |" % (
                r.id, r.conf, r.metric, fmt_num(r.measured), unit, fmt_num(r.predicted), err,
                ", ".join(r.assumptions)))
    out.append("")
    out.append("| id | not expressible because |")
    out.append("| --- | --- |")
    for r in rows:
        if r.status == "not expressible":
            out.append("| %s | %s |" % (r.id, "; ".join(r.reasons).replace("|", "\\|")))
    print("\n".join(out))


def row_json(r):
    j = {"id": r.id, "source": r.source, "conf": r.conf, "metric": r.metric, "unit": r.unit,
         "measured_value": r.measured_raw, "status": r.status}
    if r.status in ("ok", "infeasible"):
        j.update({"measured": r.measured, "predicted": r.predicted, "error": r.error,
                  "throughput_error": r.speed_error, "assumptions": r.assumptions, "command": r.command})
        if r.status == "infeasible":
            j["infeasible_reason"] = r.detail
    elif r.status == "error":
        j["planner_error"] = r.detail
    else:
        j["reasons"] = r.reasons
    return j


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def make_baseline(rows, summary, csv_path):
    o = summary["overall"]
    return {
        "format": BASELINE_FORMAT,
        "csv_sha256": sha256(csv_path),
        "throughput_mape_pct": o["throughput_mape_pct"],
        "memory_mape_pct": o["memory_mape_pct"],
        "expressible": sorted(r.id for r in rows if r.status in ("ok", "infeasible")),
        "infeasible": sorted(r.id for r in rows if r.status == "infeasible"),
        "tolerance_pp": TOLERANCE_PP,
    }


def check(rows, summary, csv_path, baseline_path):
    with open(baseline_path) as f:
        base = json.load(f)
    if base.get("format") != BASELINE_FORMAT:
        print("check: %s: format is not %s" % (baseline_path, BASELINE_FORMAT))
        return 2
    failures, notes = [], []
    if base["csv_sha256"] != sha256(csv_path):
        failures.append("the data set changed since the baseline (csv sha256 differs): rescore and rewrite the "
                        "baseline with --write-baseline in the same change")
    o = summary["overall"]
    for key, name in (("throughput_mape_pct", "throughput MAPE"), ("memory_mape_pct", "memory MAPE")):
        was, now = base[key], o[key]
        if was is None or now is None:
            if was != now:
                failures.append("%s: baseline %s, now %s" % (name, was, now))
            continue
        if now > was + TOLERANCE_PP:
            failures.append("%s regressed: %.2f%% -> %.2f%% (+%.2f pp, tolerance %.1f pp)" % (
                name, was, now, now - was, TOLERANCE_PP))
        elif now < was - TOLERANCE_PP:
            notes.append("%s improved: %.2f%% -> %.2f%% (rewrite the baseline to keep the gain)" % (name, was, now))
        else:
            notes.append("%s: %.2f%% (baseline %.2f%%)" % (name, now, was))
    expressible = {r.id for r in rows if r.status in ("ok", "infeasible")}
    lost = sorted(set(base["expressible"]) - expressible)
    if lost:
        failures.append("rows no longer expressible: " + ", ".join(lost))
    gained = sorted(expressible - set(base["expressible"]))
    if gained:
        notes.append("rows newly expressible (rewrite the baseline): " + ", ".join(gained))
    fixed = sorted(set(base["infeasible"]) - {r.id for r in rows if r.status == "infeasible"})
    if fixed:
        notes.append("rows no longer called infeasible (rewrite the baseline): " + ", ".join(fixed))
    new_inf = sorted(r.id for r in rows if r.status == "infeasible" and r.id not in base["infeasible"])
    if new_inf:
        failures.append("rows that ran are now called infeasible: " + ", ".join(new_inf))
    errs = sorted(r.id for r in rows if r.status == "error")
    if errs:
        failures.append("planner failed on: " + ", ".join(errs))
    print("")
    for n in notes:
        print("check: " + n)
    for f_ in failures:
        print("check FAILED: " + f_)
    if not failures:
        print("check: passed against " + baseline_path)
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--planner", default=os.path.join(REPO, "build", "bin", "planner"),
                    help="the planner binary [build/bin/planner]")
    ap.add_argument("--csv", default=DEFAULT_CSV, help="the measurements [tests/data/published/published-dev.csv]")
    ap.add_argument("--json", metavar="OUT", help="write the per-row results and the summary")
    ap.add_argument("--check", metavar="BASELINE", help="exit 1 if the score regressed against BASELINE")
    ap.add_argument("--write-baseline", metavar="BASELINE", help="write the current score as the baseline")
    ap.add_argument("--commands", action="store_true", help="print each row's planner simulate command")
    ap.add_argument("--markdown", action="store_true",
                    help="print the tables as Markdown instead (docs/published-scorecard.md)")
    ap.add_argument("--keep-inputs", metavar="DIR",
                    help="write the model and cluster files into DIR (kept) so the printed commands can be rerun "
                         "with WORK=DIR")
    a = ap.parse_args()
    if not (os.path.isfile(a.planner) and os.access(a.planner, os.X_OK)):
        print("score_published: no planner binary at %s (build it, or pass --planner)" % a.planner, file=sys.stderr)
        return 2
    if a.keep_inputs:
        os.makedirs(a.keep_inputs, exist_ok=True)
        rows = score(a.planner, a.csv, os.path.abspath(a.keep_inputs))
    else:
        with tempfile.TemporaryDirectory(prefix="score_published.") as work:
            rows = score(a.planner, a.csv, work)
    summary = summarize(rows)
    if a.markdown:
        print_markdown(rows, summary)
    else:
        print_report(rows, summary, a.commands)
    if a.json:
        doc = {"format": SCORECARD_FORMAT, "csv": os.path.relpath(os.path.abspath(a.csv), REPO),
               "csv_sha256": sha256(a.csv), "assumptions": ASSUMPTIONS,
               "metrics": {k: v["desc"] for k, v in sorted(METRICS.items())},
               "summary": summary, "rows": [row_json(r) for r in rows]}
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=2, sort_keys=True)
            f.write("\n")
    rc = 0
    if any(r.status == "error" for r in rows) and not a.check:
        print("score_published: planner failed on some rows (PLANNER ERROR above)", file=sys.stderr)
        rc = 2
    if a.write_baseline:
        with open(a.write_baseline, "w") as f:
            json.dump(make_baseline(rows, summary, a.csv), f, indent=2, sort_keys=True)
            f.write("\n")
        print("wrote " + a.write_baseline)
    if a.check:
        rc = check(rows, summary, a.csv, a.check)
    return rc


if __name__ == "__main__":
    sys.exit(main())
