# Step-time error of stored validations against the host speed they ran at: rescores each
# folder's validate-*.json with its profile.json (this build's simulator), then bins the rows by
# measured.host_speed (docs/calibration.md, "Host speed").
#   python3 scripts/validation-by-host-speed.py [--planner build-test/bin/planner] FOLDER...
#   python3 scripts/validation-by-host-speed.py [--planner ...] --commit COMMIT 'PATTERN'...
# The folders in the tree (tests/data/validation/README.md) are a curated few; most of the
# validations docs/measurement-log.md cites were removed from it and are in commit aa525c5. With
# --commit the arguments are folder paths or shell-style patterns (quote them) read from that
# commit with git, e.g. the figure docs/calibration.md quotes (132 rows, 03:38 to 08:29):
#   python3 scripts/validation-by-host-speed.py --commit aa525c5 'tests/data/validation/2026-11-26T0[3-8]*'
# and the folders still in the tree:
#   python3 scripts/validation-by-host-speed.py tests/data/validation/2026-11-26T0[78]*
import argparse, fnmatch, json, math, os, statistics as st, subprocess, sys, tempfile

ap = argparse.ArgumentParser()
ap.add_argument('--planner', default='build-test/bin/planner')  # scripts/test.sh's build (validate needs the executor)
ap.add_argument('--commit', help='read the folders from this git commit (they need not be in the tree)')
ap.add_argument('folders', nargs='+')
a = ap.parse_args()


def git(*args, **kw):
    return subprocess.run(['git', *args], check=True, capture_output=True, **kw).stdout


def folders_at_commit(commit, patterns, dest):
    # Every folder of the commit that a pattern names, extracted under dest; returns their paths there.
    found = []
    for pat in patterns:
        pat = pat.rstrip('/')
        parent = os.path.dirname(pat) or '.'
        names = git('ls-tree', '-d', '--name-only', f'{commit}:{parent}', text=True).split()
        hits = [f'{parent}/{n}' for n in names if fnmatch.fnmatch(f'{parent}/{n}', pat)]
        if not hits:
            sys.exit(f'{pat}: no folder of commit {commit} matches')
        found += hits
    found = sorted(set(found))
    tar = git('archive', commit, *found)
    subprocess.run(['tar', '-x', '-C', dest], input=tar, check=True)
    return [os.path.join(dest, f) for f in found]


rows = []  # (host_speed, step_time_error, model)
with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, 'rescored.json')
    folders = folders_at_commit(a.commit, a.folders, tmp) if a.commit else a.folders
    for d in folders:
        for m in ('llama', 'ff'):
            f = os.path.join(d, f'validate-{m}.json')
            if not os.path.exists(f):
                continue
            # Exit 1 is a failed verdict; the rescored document is written either way.
            p = subprocess.run([a.planner, 'validate', '--rescore', f, '--cluster', os.path.join(d, 'profile.json'),
                                '--out', out], capture_output=True, text=True)
            if p.returncode not in (0, 1):
                sys.exit(f'{f}: planner validate --rescore exited {p.returncode}: {p.stderr.strip()}')
            for r in json.load(open(out))['rows']:
                h = r.get('measured', {}).get('host_speed')
                if h:
                    rows.append((h, r['step_time_error'], m))
if len(rows) < 2:
    sys.exit('fewer than 2 rows with measured.host_speed in those folders')
hs = sorted(x[0] for x in rows)
print(f'{len(rows)} rows with a host speed: median {st.median(hs):.3f}, range {hs[0]:.2f}-{hs[-1]:.2f}')
for lo, hi in ((0, 0.9), (0.9, 0.95), (0.95, 1.05), (1.05, 1.1), (1.1, math.inf)):
    e = [x[1] for x in rows if lo <= x[0] < hi]
    if e:
        print(f'host speed {lo:.2f}-{hi:.2f}: {len(e):3d} rows, {sum(abs(x) <= 0.1 for x in e):3d} within 10%, '
              f'mean error {100 * st.mean(e):+.1f}%, mean |error| {100 * st.mean(abs(x) for x in e):.1f}%')
h = [x[0] for x in rows]
e = [x[1] for x in rows]
mh, me = st.mean(h), st.mean(e)
r = sum((x - mh) * (y - me) for x, y in zip(h, e)) / math.sqrt(sum((x - mh) ** 2 for x in h) * sum((y - me) ** 2 for y in e))
print(f'correlation of host speed and step-time error: {r:.2f}')
for m in ('llama', 'ff'):
    e = [x[1] for x in rows if 0.95 <= x[0] < 1.05 and x[2] == m]
    if len(e) >= 2:
        print(f'{m}, host speed 0.95-1.05: {len(e)} rows, mean error {100 * st.mean(e):+.1f}%, sd {100 * st.stdev(e):.1f}%')
