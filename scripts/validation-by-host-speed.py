# Step-time error of stored validations against the host speed they ran at: rescores each
# folder's validate-*.json with its profile.json (this build's simulator), then bins the rows by
# measured.host_speed (docs/calibration.md, "Host speed").
#   python3 scripts/validation-by-host-speed.py [--planner build-test/bin/planner] FOLDER...
# e.g. python3 scripts/validation-by-host-speed.py tests/data/validation/2026-11-26T0[3-8]*
import argparse, json, math, os, statistics as st, subprocess, sys, tempfile

ap = argparse.ArgumentParser()
ap.add_argument('--planner', default='build-test/bin/planner')  # scripts/test.sh's build (validate needs the executor)
ap.add_argument('folders', nargs='+')
a = ap.parse_args()
rows = []  # (host_speed, step_time_error, model)
with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, 'rescored.json')
    for d in a.folders:
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
