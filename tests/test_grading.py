"""Batch grading: honest, blank, partly right, broken and hostile submissions, graded together in one batch.

Each hostile submission attacks one line of the threat model in docs/instructors.md (and a few more); the batch
must finish with the exact gradebook below, leave every file it was given byte-identical, and leave no process.
"""
import csv
import ctypes
import dataclasses
import hashlib
import json
import os
import platform
import shlex
import shutil
import signal
import site
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest
import torch

import course_lib
import course_lib.checks
from course_lib.grading import __main__ as cli, assignment, batch, confine, ingest, reading, report, sandbox, \
    submission
from course_lib.make_exercises import make_exercise

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "00_warmup.ipynb"
CELL_TIMEOUT = 20  # seconds; the slowest honest cell (loading the data) takes a few seconds, more on a busy machine
LIMITS = sandbox.Limits(memory=2 * sandbox.GiB, processes=64, disk=64 * sandbox.MiB)
SITE_FILE = Path(torch.__file__).parents[1] / "zz_course_grade_attack.pth"  # a .pth would run at every start



def _solution_cells() -> dict[str, str]:
    cells = [c.source for c in nbformat.read(SOLUTION, as_version=4).cells if c.cell_type == "code"]
    return {name: next(c for c in cells if c.startswith(f"def {name}")) for name in ("mean_image", "binarise",
                                                                                      "on_fraction")}


HONEST = _solution_cells()
IMPORTS = "import torch\nfrom course_lib.checks import check"
STUB = {name: f"def {name}(*args):\n    raise NotImplementedError\n\n\ncheck(\"{key}\", {name})"
        for name, key in (("mean_image", "00.1"), ("binarise", "00.2"), ("on_fraction", "00.3"))}


def notebook(*cells: str) -> str:
    return nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]))


def honest(*before: str, after_mean: str = "", after_binarise: str = "", **answers: str) -> str:
    """The warm-up's three answers (or replacements in `answers`), with attack cells before or between them."""
    cells = [IMPORTS, *before, answers.get("mean_image", HONEST["mean_image"]), after_mean,
             answers.get("binarise", HONEST["binarise"]), after_binarise,
             answers.get("on_fraction", HONEST["on_fraction"])]
    return notebook(*[c for c in cells if c])


def _edit(replacements: dict[str, str]) -> str:
    """The warm-up solution with the code cell starting `prefix` replaced, per replacements {prefix: source}."""
    nb = nbformat.read(SOLUTION, as_version=4)
    for prefix, source in replacements.items():
        cells = [cell for cell in nb.cells if cell.cell_type == "code" and cell.source.startswith(prefix)]
        assert len(cells) == 1, f"no single code cell starts with {prefix!r}"
        cells[0].source = source
    return nbformat.writes(nb)


REPORT = "raise RuntimeError(f'REPORT {found}')"  # what an attack achieved, read back from its feedback
KEYS = """import ctypes, errno, platform
libc = ctypes.CDLL(None, use_errno=True)
ADD_KEY, KEYCTL = {'x86_64': (248, 250), 'aarch64': (217, 219)}[platform.machine()]
RINGS = {'session': -3, 'user': -4}  # KEY_SPEC_SESSION_KEYRING, KEY_SPEC_USER_KEYRING
"""

ATTACKS = {
    # read the grader's command line, environment and files; hand back what it found in its error messages
    "snoop": honest("""import os
found = []
if 'COURSE_GRADER_CANARY' in os.environ: found.append('environment')
for pid in filter(str.isdigit, os.listdir('/proc')):
    try:
        line = open(f'/proc/{pid}/cmdline', 'rb').read()
    except OSError:
        continue
    if b'pytest' in line or b'course_lib.grading\\x00' in line: found.append(f'process {pid}')
for path in [SEED, OUT + '/gradebook.csv', SUBMITTED + '/perfect/00_warmup.ipynb', SUBMITTED + '/blank.ipynb',
             HOME + '/.bash_history', '/etc/shadow']:
    try:
        if open(path).read(): found.append(path)
    except OSError:
        pass
""" + REPORT),
    # read solutions/ beside the package, or anywhere on the disk, and hand them in
    "reads_solutions": notebook(IMPORTS, """import json, os, pathlib, time
import course_lib
import course_lib.checks
found, start = [], time.time()
candidates = [p for root in (pathlib.Path(course_lib.__file__).parents[1] / 'solutions', pathlib.Path(SOLUTIONS))
              for p in (root.glob('*.ipynb') if root.is_dir() else [])]
for dirpath, dirnames, filenames in os.walk('/'):
    if dirpath.startswith(('/proc', '/sys', '/dev', '/usr/lib', '/usr/share', '/scratch')) or 'site-packages' in dirpath \\
            or time.time() - start > 8:
        dirnames[:] = []
        continue
    candidates += [pathlib.Path(dirpath, f) for f in filenames if f.endswith('.ipynb')]
for path in candidates:
    try:
        for cell in json.loads(path.read_text())['cells']:
            if cell['cell_type'] == 'code' and 'BEGIN SOLUTION' in ''.join(cell['source']):
                exec(''.join(cell['source']).replace('check(', 'print('), globals())
                found.append(str(path))
    except Exception:
        pass
""", 'check("00.1", mean_image)', 'check("00.2", binarise)', 'check("00.3", on_fraction)'),
    # signal every process it can see, its parent included
    "kills_parent": honest("""import os, signal
for pid in [os.getppid(), 1, *map(int, filter(str.isdigit, os.listdir('/proc')))]:
    if pid != os.getpid():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass"""),
    "kills_all": honest(after_mean="import os, time\nif os.fork() == 0:\n    os.kill(-1, 9)\ntime.sleep(5)"),
    # start processes that outlive it and write the gradebook later
    "daemon": honest("""import os, subprocess, sys
code = f'''
import time
end = time.time() + 60
while time.time() < end:
    for path in [{OUT!r} + '/gradebook.csv', {SUBMITTED!r} + '/blank.ipynb', 'gradebook.csv']:
        try:
            open(path, 'w').write('daemon,2,1,1,4,4')
        except OSError:
            pass
    time.sleep(0.1)
'''
child = os.fork()
if child == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, '-c', code])
    os._exit(0)
os.waitpid(child, 0)
subprocess.Popen([sys.executable, '-c', code], start_new_session=True)"""),
    # write anywhere its user may write: the course package, site-packages, other students, the output
    "writer": honest("""import os, pathlib, course_lib
found = []
for path in [pathlib.Path(course_lib.__file__).with_name('checks.py'), pathlib.Path(SITE_FILE),
             pathlib.Path(SUBMITTED, 'perfect', '00_warmup.ipynb'), pathlib.Path(SUBMITTED, 'blank.ipynb'),
             pathlib.Path(OUT, 'gradebook.csv'), pathlib.Path(SOLUTIONS, '00_warmup.ipynb'),
             pathlib.Path(INSTRUCTOR, 'planted.txt'), pathlib.Path('/planted'), pathlib.Path('/dev/planted'),
             pathlib.Path('/etc/ssh/planted'), pathlib.Path('/usr/planted')]:
    try:
        with open(path, 'a') as handle:
            handle.write('# written by a submission\\n')
        found.append(str(path))
    except OSError:
        pass
for command in ('mount -o remount,rw /usr', 'unshare -Ur true', 'touch /usr/planted'):
    if os.system(command + ' 2>/dev/null') == 0:
        found.append(command)
""" + REPORT),
    # replace objects in its own interpreter: the comparisons, the checks, the answers' results
    "patcher": honest("""import numpy as np
import course_lib.checks as checks
torch.allclose = torch.equal = lambda *args, **kwargs: True
torch.isclose = lambda a, b, **kwargs: torch.ones_like(torch.as_tensor(a), dtype=torch.bool)
np.isclose = lambda a, b, **kwargs: np.ones(np.broadcast(a, b).shape, bool)
torch.Tensor.__eq__ = lambda self, other: torch.ones_like(self, dtype=torch.bool)
checks.expect_close = lambda *args, **kwargs: None
checks.evaluate = lambda ex, answer, seed=0: checks.Result(ex.key, checks.PASSED, 'passed', ex.points, ex.points)
checks.run_check = lambda key, answer: checks.Result(key, checks.PASSED, 'passed', 2, 2)""",
                      mean_image="def mean_image(images, labels, label):\n    return images[:1].mean(0) * 0\n"
                                 "check('00.1', mean_image)",
                      binarise="def binarise(images, threshold=0.5):\n    return images * 0\ncheck('00.2', binarise)",
                      on_fraction="def on_fraction(images, threshold=0.5):\n    return images[:, 0, 0, 0] * 0\n"
                                  "check('00.3', on_fraction)"),
    # forge channel messages: replies for requests not sent yet, and a patched runner and `perform`
    "forger": honest("""import os, struct, sys
import course_lib.checks as checks, course_lib.grading.runner as runner
fd = int(sys.argv[sys.argv.index('--replies') + 1])
forged = checks.encode({'outcome': 'returned', 'value': torch.zeros(1, 3, 5), 'names': ['mean_image'], 'error': None})
for request_id in range(1, 120):
    runner.write_frame(fd, request_id, forged)
checks.perform = lambda target, request: forged
runner.write_frame = lambda fd_, request_id, payload: os.write(fd, struct.pack('>II', len(forged), request_id) + forged)""",
                     **{name: STUB[name] for name in STUB}),
    # exhaust memory
    "hog": honest("""import mmap
found = []
try:
    block = bytearray(3 * 2**30)
    found.append('bytearray')
except MemoryError:
    pass
try:
    block = torch.ones(2**30)
    found.append('tensor')
except RuntimeError:
    pass
try:
    shared = mmap.mmap(-1, 16 * 2**30)
    found.append('mmap')
except (OSError, MemoryError):
    pass
""" + REPORT),
    # exhaust processes
    "forkbomb": honest("""import os
started = 0
for _ in range(600):
    try:
        child = os.fork()
    except OSError:
        break
    if child == 0:
        os.execv('/bin/sleep', [INSTRUCTOR + '/sleep', '120'])  # a name that marks it as this batch's
    started += 1
found = started
""" + REPORT),
    # exhaust the disk
    "disk": honest("""found = [0, 0]
try:
    with open('big', 'wb') as handle:
        for _ in range(1024):
            handle.write(b'x' * 2**20)
            found[0] += 1
except OSError:
    pass
try:
    while found[1] < 2000:
        with open(f'small{found[1]}', 'wb') as handle:
            handle.write(b'x' * 2**20)
        found[1] += 1
except OSError:
    pass
""" + REPORT),
    # exhaust output: print a lot, and return more than the channel carries
    "spammer": honest("""import sys
print('passed ' * 10**7)
sys.stderr.write('student,00.1,00.2,00.3,total,max\\nspammer,2,1,1,4,4\\n' * 10**5)""",
                      on_fraction="def on_fraction(images, threshold=0.5):\n    return torch.zeros(40_000_000)\n"
                                  "check('00.3', on_fraction)"),
    # a frame header announcing 2 GiB
    "giant_frame": honest(after_mean="import os, struct, sys, time\n"
                                     "os.write(int(sys.argv[sys.argv.index('--replies') + 1]), struct.pack('>II', 2**31, 2))\n"
                                     "time.sleep(2)"),
    # ignore the interrupt and loop
    "ignores_interrupt": honest(after_binarise="import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                               "while True:\n    pass"),
    # answer the public check's inputs from a table (a leaked answer key), nothing else: the grader's are secret
    "memorizer": notebook(IMPORTS, "\n\n".join(HONEST[name].split("\n\n\ncheck(")[0] for name in HONEST).replace(
        "mean_image", "ref_mean_image").replace("binarise", "ref_binarise").replace("on_fraction", "ref_on_fraction"),
        """import hashlib
import course_lib.checks as checks
table = {}
def key_of(args):
    return hashlib.sha256(checks.encode(list(args))).hexdigest()
def recording(reference):
    def answer(*args):
        table[key_of(args)] = reference(*args)
        return table[key_of(args)]
    return answer
for key, reference in [('00.1', ref_mean_image), ('00.2', ref_binarise), ('00.3', ref_on_fraction)]:
    checks.evaluate(checks.get(key), checks.LocalAnswer(recording(reference)), checks.PUBLIC_SEED)
del ref_mean_image, ref_binarise, ref_on_fraction
def lookup(*args):
    if key_of(args) not in table:
        raise ValueError('not in my table')
    return table[key_of(args)]
mean_image = binarise = on_fraction = lookup""", 'check("00.1", mean_image)', 'check("00.2", binarise)',
        'check("00.3", on_fraction)'),
    # issue 19, what the sandbox shares with the host and with other sandboxes: the kernel's keyrings (not
    # namespaced: a key linked into the session or user keyring waits there for a submission graded later) ...
    "keyring_plant": honest(KEYS + """found = {}
for name, ring in RINGS.items():
    key = libc.syscall(ADD_KEY, b'user', b'course-attack-' + name.encode(), b'answer code', 11, ctypes.c_int(ring))
    found[name] = key if key >= 0 else errno.errorcode[ctypes.get_errno()]
""" + REPORT),
    "keyring_seek": honest(KEYS + """import time
found, end = {}, time.time() + 15  # the planter may be graded at the same time: look until it has planted
while time.time() < end and (not found or 'ENOKEY' in found.values()):
    for name, ring in RINGS.items():
        key = libc.syscall(KEYCTL, 10, ctypes.c_int(ring), b'user', b'course-attack-' + name.encode(), 0)  # SEARCH
        found[name] = key if key >= 0 else errno.errorcode[ctypes.get_errno()]
    time.sleep(0.5)
""" + REPORT),
    # ... the sysctls (a root sandbox could set kernel.core_pattern, a program the kernel runs as host root on the
    # next crash; opening for writing is the test, nothing is written) ...
    "sysctl": honest("""import os
found = []
for path in ('/proc/sys/kernel/core_pattern', '/proc/sys/kernel/hostname', '/proc/sysrq-trigger'):
    try:
        os.close(os.open(path, os.O_WRONLY))
        found.append(path)
    except OSError:
        pass
""" + REPORT),
    # ... and who it runs as: the host's uid, user names and host name, printed into its feedback
    "identity": honest("""import getpass, json, os, socket
found = json.dumps({'user': getpass.getuser(), 'host': socket.gethostname(), 'node': os.uname().nodename,
                    'passwd': [line.split(':')[0] for line in open('/etc/passwd')],
                    'uid_map': ' '.join(open('/proc/self/uid_map').read().split())})
""" + REPORT),
    # the network
    "network": honest("""import socket
found = []
for host, port in [('127.0.0.1', PORT), ('10.0.2.2', 80), ('1.1.1.1', 53)]:
    try:
        socket.create_connection((host, port), timeout=2).close()
        found.append(host)
    except OSError:
        pass
""" + REPORT),
}

SUBMISSIONS = {
    **ATTACKS,
    "blank": make_exercise(SOLUTION),
    "partly": _edit({
        "def binarise": 'def binarise(images, threshold=0.5):\n    return (images >= threshold).float()\n\n\n'
                        'check("00.2", binarise)',
        "def on_fraction": 'def on_fraction(images, threshold=0.5):\n    return binarise(images, threshold).mean()'
                           '\n\n\ncheck("00.3", on_fraction)'}),
    "syntax_error": honest(on_fraction='def on_fraction(images, threshold=0.5)\n    return 1\n\n\ncheck("00.3", on_fraction)'),
    "hangs": honest(on_fraction='def on_fraction(images, threshold=0.5):\n    while True:\n        pass\n\n\n'
                                'check("00.3", on_fraction)'),
    "crashes": honest(after_binarise="import os\nos.kill(os.getpid(), 9)"),
    "exits": honest(binarise='import sys\nsys.exit("bye")\n\n\ndef binarise(images, threshold=0.5):\n'
                             '    return (images > threshold).float()\n\n\ncheck("00.2", binarise)'),
    "unreadable": "{ this is not a notebook",
    # an honest student may alias, edit or remove the check line
    "aliased": honest(**{name: HONEST[name].replace("check(", "verify(") for name in HONEST},
                      after_mean="").replace("from course_lib.checks import check",
                                             "from course_lib.checks import check as verify"),
    "renamed": honest(mean_image=HONEST["mean_image"].replace("mean_image", "class_mean")),
    "no_checks": honest(**{name: HONEST[name].split("\n\n\ncheck(")[0] for name in HONEST}),
    "=HYPERLINK(1)": honest(),
    "@sum": notebook(IMPORTS, *STUB.values()),
}

TAIL = "total,max,status,days_late,late_penalty,adjustment,id,name,section,flags"
EXPECTED = f"""student,00.1,00.2,00.3,{TAIL}
HYPERLINK_1-bd32d5ce,2,1,1,4,4,submitted,0,0,0,,'=HYPERLINK(1),,
aliased,2,1,1,4,4,submitted,0,0,0,,aliased,,
blank,0,0,0,0,4,submitted,0,0,0,,blank,,
crashes,2,1,0,3,4,submitted,0,0,0,,crashes,,
daemon,2,1,1,4,4,submitted,0,0,0,,daemon,,
disk,2,1,1,4,4,submitted,0,0,0,,disk,,
exits,2,0,0,2,4,submitted,0,0,0,,exits,,
forger,0,0,0,0,4,submitted,0,0,0,,forger,,
forkbomb,2,1,1,4,4,submitted,0,0,0,,forkbomb,,
giant_frame,2,0,0,2,4,submitted,0,0,0,,giant_frame,,
hangs,2,1,0,3,4,submitted,0,0,0,,hangs,,
hog,2,1,1,4,4,submitted,0,0,0,,hog,,
identity,2,1,1,4,4,submitted,0,0,0,,identity,,
ignores_interrupt,2,1,0,3,4,submitted,0,0,0,,ignores_interrupt,,
keyring_plant,2,1,1,4,4,submitted,0,0,0,,keyring_plant,,
keyring_seek,2,1,1,4,4,submitted,0,0,0,,keyring_seek,,
kills_all,2,0,0,2,4,submitted,0,0,0,,kills_all,,
kills_parent,2,1,1,4,4,submitted,0,0,0,,kills_parent,,
memorizer,0,0,0,0,4,submitted,0,0,0,,memorizer,,
missing_check,2,1,1,4,4,submitted,0,0,0,,missing_check,,
network,2,1,1,4,4,submitted,0,0,0,,network,,
no_checks,2,1,1,4,4,submitted,0,0,0,,no_checks,,
partly,2,0.8,0,2.8,4,submitted,0,0,0,,partly,,
patcher,0,0,0,0,4,submitted,0,0,0,,patcher,,
perfect,2,1,1,4,4,submitted,0,0,0,,perfect,,
reads_solutions,0,0,0,0,4,submitted,0,0,0,,reads_solutions,,
renamed,2,1,1,4,4,submitted,0,0,0,,renamed,,
snoop,2,1,1,4,4,submitted,0,0,0,,snoop,,
spammer,2,1,0,3,4,submitted,0,0,0,,spammer,,
sum-b0cca27f,0,0,0,0,4,submitted,0,0,0,,'@sum,,
syntax_error,2,1,0,3,4,submitted,0,0,0,,syntax_error,,
sysctl,2,1,1,4,4,submitted,0,0,0,,sysctl,,
unreadable,0,0,0,0,4,submitted,0,0,0,,unreadable,,
writer,2,1,1,4,4,submitted,0,0,0,,writer,,
"""


VERSION = batch.checks_version("00", ["00.1", "00.2", "00.3"])
EXPECTED = "".join(f"{line},{'checks' if i == 0 else VERSION}\n" for i, line in enumerate(EXPECTED.splitlines()))


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def _alive(namespaces: set[str], marker: str) -> list[int]:
    """Processes (host pids) in a grading sandbox (one of these PID namespaces, and /scratch at the root: namespace
    numbers are reused, e.g. by Chromium's sandbox, and by the sandboxes of another grader running meanwhile, which
    are left out) or whose command line holds `marker`."""
    alive = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (marker.encode() in (entry / "cmdline").read_bytes() or (
                    os.readlink(entry / "ns" / "pid") in namespaces and (entry / "root" / "scratch").is_dir()
                    and not _in_another_graders_sandbox(int(entry.name)))):
                alive.append(int(entry.name))
        except OSError:
            continue
    return alive


def _in_another_graders_sandbox(pid: int) -> bool:
    """Whether `pid` descends from a bubblewrap launched by a process other than this one (this test's sandboxes
    are all launched by it; a process escaping one would lose its bubblewrap ancestors)."""
    bwrap = False
    while pid > 1:
        parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"bwrap\0"):
            bwrap = True
        elif bwrap:  # the first ancestor above the bubblewrap launcher: the grader that started it
            return pid != os.getpid()
        pid = parent
    return False


def _describe(pid: int) -> str:
    proc = Path("/proc") / str(pid)
    try:
        return (f"{pid}: {(proc / 'cmdline').read_bytes()[:200]!r} {os.readlink(proc / 'ns' / 'pid')} "
                f"{(proc / 'stat').read_text().rsplit(')', 1)[1].split()[:2]}")
    except OSError as err:
        return f"{pid}: gone ({err})"


@pytest.fixture(scope="module")
def graded(tmp_path_factory, sandbox_works):
    instructor = tmp_path_factory.mktemp("course")
    (instructor / "solutions").mkdir()
    (instructor / "solutions" / "00_warmup.ipynb").write_bytes(SOLUTION.read_bytes())
    submissions, out = instructor / "submitted", instructor / "grades"
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    places = {"OUT": str(out), "SEED": str(out / ".grading" / "seed"), "SUBMITTED": str(submissions),
              "SOLUTIONS": str(instructor / "solutions"), "INSTRUCTOR": str(instructor), "HOME": str(Path.home()),
              "SITE_FILE": str(SITE_FILE), "PORT": str(listener.getsockname()[1])}
    prelude = "\n".join(f"{name} = {value!r}" if name != "PORT" else f"PORT = {value}" for name, value in places.items())
    submissions.mkdir()
    for student, text in SUBMISSIONS.items():
        if student in ATTACKS:  # the attacker knows every path (it read the grader's source and guessed well)
            nb = nbformat.reads(text, as_version=4)
            nb.cells.insert(1, nbformat.v4.new_code_cell(prelude))
            text = nbformat.writes(nb)
        (submissions / f"{student}.ipynb").write_text(text)
    (submissions / "perfect").mkdir()  # a folder per student works too
    (submissions / "perfect" / "00_warmup.ipynb").write_bytes(SOLUTION.read_bytes())
    (submissions / "missing_check.ipynb").write_text(SOLUTION.read_text().replace('check(\\"00.1\\", mean_image)', ""))
    before = _digest(instructor)
    package_before = _digest(Path(course_lib.__file__).parent)
    namespaces: list[str] = []
    notebooks: list[Path] = []  # of the submissions' sandboxes; the probes' fresh sandboxes have none

    class Recorded(sandbox.Sandbox):
        def __enter__(self):
            box = super().__enter__()
            namespaces.append(f"pid:[{box.info.get('pid-namespace')}]")
            notebooks.extend([box.notebook] if box.notebook else [])
            return box

    os.environ["COURSE_GRADER_CANARY"] = "a secret of the grader's environment"
    _keyctl(1, None)  # KEYCTL_JOIN_SESSION_KEYRING: a session keyring of its own, as from a login, a container or
    # a service; the sandboxes inherit it (without one, each sandbox would make its own and a key would not travel)
    started = time.monotonic()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(submission, "Sandbox", Recorded)
            settings = submission.Settings(cell_timeout=CELL_TIMEOUT, timeout=120, limits=LIMITS)
            grades = batch.grade_folder(submissions, out, settings=settings, jobs=2, log=lambda _: None)
    finally:
        del os.environ["COURSE_GRADER_CANARY"]
    seconds = time.monotonic() - started
    gradebook = (out / "gradebook.csv").read_bytes()
    time.sleep(1.5)  # a surviving daemon would write within 0.1 s
    try:
        connection = listener.accept()
    except BlockingIOError:
        connection = None
    listener.close()
    yield {"instructor": instructor, "out": out, "before": before, "package_before": package_before,
           "grades": {g.student: g for g in grades}, "namespaces": namespaces, "notebooks": notebooks,
           "gradebook": gradebook,
           "connection": connection, "seconds": seconds, "submissions": submissions}
    if SITE_FILE.exists():  # only if the defence failed; never leave it behind
        SITE_FILE.unlink()
    _unlink_planted_keys()


def _keyctl(*args) -> int:
    return ctypes.CDLL(None, use_errno=True).syscall({"x86_64": 250, "aarch64": 219}[platform.machine()], *args)


def _unlink_planted_keys() -> None:
    """Invalidate the keys a sandbox left in the grader's keyrings (only if the defence failed)."""
    for line in Path("/proc/keys").read_text().splitlines():
        if "course-attack" in line:
            _keyctl(21, int(line.split()[0], 16))  # KEYCTL_INVALIDATE


def test_gradebook_is_exactly_as_expected(graded):
    assert (graded["out"] / "gradebook.csv").read_text() == EXPECTED


def test_no_process_of_the_batch_is_alive_and_nothing_wrote_the_gradebook_afterwards(graded):
    assert len(graded["notebooks"]) == len(SUBMISSIONS) + 2  # every submission had its own sandbox (which reads it)
    assert len(set(graded["notebooks"])) == len(graded["notebooks"])
    alive = _alive(set(graded["namespaces"]), str(graded["instructor"]))  # daemons name it, sleepers too
    assert alive == [], [_describe(pid) for pid in alive]
    assert (graded["out"] / "gradebook.csv").read_bytes() == graded["gradebook"]


def test_every_file_it_was_given_and_the_course_package_are_unchanged(graded):
    after = {path: digest for path, digest in _digest(graded["instructor"]).items() if not path.startswith("grades/")}
    assert after == graded["before"]
    assert _digest(Path(course_lib.__file__).parent) == graded["package_before"]
    assert not SITE_FILE.exists()


def test_the_output_folder_holds_only_the_graders_outputs(graded):
    out = graded["out"]
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    students = [ingest.safe_key(s) for s in SUBMISSIONS] + ["missing_check", "perfect"]
    assert [n for n in names if n.startswith("feedback/")] == sorted(f"feedback/{s}.md" for s in students)
    assert [n for n in names if not n.startswith(("feedback/", ".grading/graded/"))] == ["gradebook.csv",
                                                                                          "ingest.csv"]  # no seed
    assert len([n for n in names if n.startswith(".grading/graded/")]) == len(students)


def _feedback(graded, student: str) -> str:
    return (graded["out"] / "feedback" / f"{student}.md").read_text()


def _report(graded, student: str) -> str:
    """What the attack said it achieved (its REPORT error in the feedback's notes)."""
    text = _feedback(graded, student)
    return text[text.index("REPORT ") + len("REPORT "):].split("\n")[0]


def test_each_attack_achieved_nothing(graded):
    assert _report(graded, "snoop") == "[]"
    assert _report(graded, "writer") == "[]"
    assert _report(graded, "hog") == "[]"
    assert _report(graded, "network") == "[]" and graded["connection"] is None
    assert int(_report(graded, "forkbomb")) < LIMITS.processes
    big, small = json.loads(_report(graded, "disk"))
    assert big < 64 and big + small <= 64  # MiB: the sandbox's disk limit
    assert "is not defined" in _feedback(graded, "reads_solutions")
    assert _report(graded, "keyring_plant") == _report(graded, "keyring_seek") == "{'session': 'EPERM', 'user': 'EPERM'}"
    assert "course-attack" not in Path("/proc/keys").read_text()
    assert _report(graded, "sysctl") == "[]"
    identity = json.loads(_report(graded, "identity"))
    uid_map = identity.pop("uid_map").split()
    mapped = {int(inside): int(host) for inside, host in zip(uid_map[0::3], uid_map[1::3])}
    assert identity == {"user": "learner", "host": "sandbox", "node": "sandbox", "passwd": ["learner", "nobody"]}
    if os.geteuid() == 0:  # its own host uid from the pool; 0 is mapped only for bubblewrap's setup
        assert set(mapped) == {0, 1000} and mapped[0] == 0 and mapped[1000] >= confine.DEFAULT_UID, uid_map
    else:  # the grader's uid, or 0 of the namespace bubblewrap's --disable-userns puts between them
        assert set(mapped) == {1000}, uid_map
    assert str(graded["submissions"]) not in "".join(_feedback(graded, ingest.safe_key(s)) for s in SUBMISSIONS)


def test_every_student_gets_a_feedback_file_with_the_reasons(graded):
    def feedback(student):
        return _feedback(graded, student)

    with open(graded["out"] / "gradebook.csv") as handle:
        assert len(list(csv.DictReader(handle))) == len(SUBMISSIONS) + 2
    assert "4/4 points" in feedback("perfect") and "passed" in feedback("perfect")
    assert "not done yet" in feedback("blank")
    assert "tried:" in feedback("partly") and "expected:" in feedback("partly") and "got:" in feedback("partly")
    assert "SyntaxError" in feedback("syntax_error")
    assert f"did not finish within {CELL_TIMEOUT} s" in feedback("hangs")
    assert "the kernel died" in feedback("crashes") and "the kernel died" in feedback("kills_all")
    assert "SystemExit" in feedback("exits")
    assert "could not be read" in feedback("unreadable")
    assert "was changed or removed" in feedback("missing_check") and "4/4 points" in feedback("missing_check")
    assert "was changed or removed" in feedback("aliased") and "was changed or removed" in feedback("no_checks")
    assert "4/4 points" in feedback("renamed") and "not defined" not in feedback("renamed")
    assert f"ran longer than {CELL_TIMEOUT} s" in feedback("ignores_interrupt")
    assert "did not respond" in feedback("ignores_interrupt")
    assert "more than the limit" in feedback("giant_frame")
    assert "a result made of tensors" in feedback("spammer")
    assert "not right yet" in feedback("patcher") and "not done yet" not in feedback("patcher")
    assert "WITHOUT a sandbox" not in feedback("perfect")


def test_the_batch_graded_two_at_a_time(graded):
    print(f"graded {len(SUBMISSIONS) + 2} submissions in {graded['seconds']:.0f} s")


WRONG_MEAN = "def mean_image(images, labels, label):\n    return images.mean(dim=0)\n\n\ncheck('00.1', mean_image)"
SLOW = "import time\ntime.sleep(10)  # still being graded when a test presses Ctrl-C after the first student\n\n\n"


def _tiny_batch(folder: Path, students: list[str]) -> Path:
    """Honest submissions, except one called "wrong" whose mean image ignores the label (and which takes 10 s)."""
    submissions = folder / "in"
    submissions.mkdir()
    for student in students:
        (submissions / f"{student}.ipynb").write_text(honest(mean_image=SLOW + WRONG_MEAN) if student == "wrong"
                                                           else honest())
    return submissions


def test_ctrl_c_keeps_what_was_graded_and_resume_grades_only_the_rest(tmp_path, sandbox_works):
    submissions = _tiny_batch(tmp_path, ["a", "wrong"])
    out = tmp_path / "out"
    command = [sys.executable, "-m", "course_lib.grading", str(submissions), "--out", str(out), "--jobs", "1",
               "--cell-timeout", "30", "--memory", "2047M"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    grader = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    first = ""
    while not first.endswith("/4\n"):  # what was read and inferred, the plan, then the first graded student
        line = grader.stdout.readline()
        assert line, f"the grader ended early: {first}"
        first += line
    grader.send_signal(signal.SIGINT)
    _, err = grader.communicate(timeout=120)
    assert "a: 4/4" in first and grader.returncode == 130 and "--resume" in err, f"{first}{err}"
    assert not (out / "gradebook.csv").exists() and len(list((out / ".grading" / "graded").glob("*.json"))) >= 1
    assert _runners(memory=2047 * 2**20) == []
    resumed = subprocess.run(command + ["--resume"], capture_output=True, text=True, env=env, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "grading 1 of 2" in resumed.stdout, f"first run:\n{first}{err}\nresumed:\n{resumed.stdout}"
    gradebook = (out / "gradebook.csv").read_text()
    assert gradebook == (f"student,00.1,00.2,00.3,{TAIL},checks\na,2,1,1,4,4,submitted,0,0,0,,a,,,{VERSION}\n"
                         f"wrong,0.5,1,1,2.5,4,submitted,0,0,0,,wrong,,,{VERSION}\n")  # right where each image has the label
    feedback = (out / "feedback" / "wrong.md").read_bytes()
    assert b"with " in feedback and b" at index " in feedback  # values drawn from this grading's secret
    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)  # a regrade of all
    assert again.returncode == 0 and "grading 2 of 2" in again.stdout
    assert (out / "gradebook.csv").read_text() == gradebook  # the same points, on fresh inputs:
    assert (out / "feedback" / "wrong.md").read_bytes() != feedback  # a table built from the first feedback misses


def _runners(memory: int) -> list[int]:
    """Runner processes (host pids) started with this memory limit: a marker of one test's sandboxes."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            line = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"course_lib.grading.runner" in line and str(memory).encode() in line:
            found.append(int(entry.name))
    return found


def test_the_per_submission_time_limit_stops_a_slow_notebook(tmp_path, sandbox_works):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import time\nfrom course_lib.checks import check\ndef binarise(x, t=0.5):\n"
                                  "    return (x > t).float()\ncheck('00.2', binarise)"),
        *[nbformat.v4.new_code_cell("time.sleep(1.5)") for _ in range(4)],
        nbformat.v4.new_code_cell("def mean_image(images, labels, label):\n    return images.mean(0)\n"
                                  "check('00.1', mean_image)"),
    ])
    (tmp_path / "in").mkdir()
    nbformat.write(nb, tmp_path / "in" / "slow.ipynb")
    settings = submission.Settings(cell_timeout=5, timeout=3, limits=LIMITS)
    [grade] = batch.grade_folder(tmp_path / "in", tmp_path / "out", settings=settings, jobs=1, log=lambda _: None)
    assert [grade.results[key][1] for key in ("00.1", "00.2", "00.3")] == [0, 1, 0]
    assert "ran longer than 3 s in total" in grade.results["00.1"][2]


def test_without_a_sandbox_the_gradebook_and_every_feedback_file_say_so(tmp_path):
    submissions = _tiny_batch(tmp_path, ["a"])
    settings = submission.Settings(cell_timeout=30, limits=LIMITS, sandbox=False)
    batch.grade_folder(submissions, tmp_path / "out", settings=settings, jobs=1, log=lambda _: None)
    rows = list(csv.reader((tmp_path / "out" / "gradebook.csv").open()))
    assert rows[0][-1] == "note" and rows[1][:6] == ["a", "2", "1", "1", "4", "4"] and "WITHOUT a sandbox" in rows[1][-1]
    assert "WITHOUT a sandbox" in (tmp_path / "out" / "feedback" / "a.md").read_text()


def test_resume_regrades_the_records_that_other_checks_made(tmp_path, monkeypatch):
    """Issue 20: after 00.1's points changed, --resume kept the old grades (4/4 became 4/5 instead of 5/5)."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "alice.ipynb").write_text(notebook(IMPORTS, HONEST["mean_image"], STUB["binarise"],
                                                          STUB["on_fraction"]))
    settings = submission.Settings(cell_timeout=30, limits=LIMITS, sandbox=False)  # records, not the sandbox

    def grade(resume: bool) -> tuple[list[list[str]], list[str]]:
        said = []
        batch.grade_folder(tmp_path / "in", tmp_path / "out", settings=settings, jobs=1, resume=resume,
                           log=said.append)
        return list(csv.reader((tmp_path / "out" / "gradebook.csv").open())), said

    rows, _ = grade(resume=False)
    before = batch.checks_version("00", ["00.1", "00.2", "00.3"])
    column = rows[0].index("checks")
    assert rows[0][:6] == ["student", "00.1", "00.2", "00.3", "total", "max"]
    assert rows[1][:6] + [rows[1][column]] == ["alice", "2", "0", "0", "2", "4", before]
    assert before.startswith(course_lib.__version__ + "+")
    record = json.loads(next((tmp_path / "out" / ".grading" / "graded").glob("*.json")).read_text())
    assert record["checks"] == before
    assert f"Graded by the checks {before}." in (tmp_path / "out" / "feedback" / "alice.md").read_text()
    rows, said = grade(resume=True)  # nothing changed: the record is reused
    assert f"regrading 0 records made by other checks than this run's ({before})" in said
    assert any("grading 0 of 1" in line for line in said)
    ex = submission.checks.get("00.1")
    monkeypatch.setitem(submission.checks._EXERCISES, "00.1", dataclasses.replace(ex, points=3))
    after = batch.checks_version("00", ["00.1", "00.2", "00.3"])
    assert after != before
    rows, said = grade(resume=True)
    assert f"regrading 1 records made by other checks than this run's ({after})" in said
    assert any("grading 1 of 1" in line for line in said)
    assert rows[1][:6] + [rows[1][column]] == ["alice", "3", "0", "0", "3", "5", after]


def test_a_partly_right_answer_gets_part_of_the_points_and_its_feedback_lists_the_parts(tmp_path):
    (tmp_path / "in").mkdir()
    wrong_edge = HONEST["binarise"].replace("images > threshold", "images >= threshold")
    assert wrong_edge != HONEST["binarise"]
    (tmp_path / "in" / "bob.ipynb").write_text(notebook(IMPORTS, STUB["mean_image"], wrong_edge, STUB["on_fraction"]))
    settings = submission.Settings(cell_timeout=30, limits=LIMITS, sandbox=False)
    [grade] = batch.grade_folder(tmp_path / "in", tmp_path / "out", settings=settings, jobs=1, log=lambda _: None)
    assert [grade.results[key][1] for key in ("00.1", "00.2", "00.3")] == [0, 0.8, 0] and grade.total == 0.8
    rows = list(csv.reader((tmp_path / "out" / "gradebook.csv").open()))
    assert rows[1][:6] == ["bob", "0", "0.8", "0", "0.8", "4"]
    feedback = (tmp_path / "out" / "feedback" / "bob.md").read_text()
    assert "# Feedback for bob: 0.8/4 points" in feedback and "## 00.2 binarise images at a threshold: 0.8/1" in feedback
    assert "partly right (0.8/1 points: 4 of 5 parts)" in feedback
    assert "FAILED:   a pixel equal to the threshold is off" in feedback and "passed:   threshold 0.5" in feedback


FORGED_PROBE = notebook(IMPORTS, STUB["mean_image"], """import course_lib.checks as checks
def unchanged(answer, *args):  # what the real probe would report for a binarise that copies its input
    return {"result": answer(*[a.clone() if isinstance(a, torch.Tensor) else a for a in args]), "args": list(args)}
checks.inputs_after = unchanged""", """def binarise(images, threshold=0.5):
    images[images <= threshold] = 0.0  # right values, written into the input
    images[images > threshold] = 1.0
    return images""", 'check("00.2", binarise)', STUB["on_fraction"])


def test_a_forged_probe_no_longer_earns_points(tmp_path, sandbox_works):
    """Issue 20: replacing the probe `checks.inputs_after` in another cell earned 00.2's point for a binarise that
    writes into its input. The probe now runs in a fresh sandbox on binarise rebuilt from its definition alone."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "mallory.ipynb").write_text(FORGED_PROBE)
    started = []

    class Recorded(sandbox.Sandbox):
        def __enter__(self):
            started.append(self.notebook)
            return super().__enter__()

    settings = submission.Settings(cell_timeout=CELL_TIMEOUT, limits=LIMITS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(submission, "Sandbox", Recorded)
        [grade] = batch.grade_folder(tmp_path / "in", tmp_path / "out", settings=settings, jobs=1, log=lambda _: None)
    status, points, message = grade.results["00.2"]
    assert points == 0.8 and "FAILED:   a new tensor: the input is left unchanged" in message, message
    assert "images modified in place" in message
    assert len(started) == 2 and started[1] is None  # the submission's sandbox, then one fresh one for its probes


def test_the_definitions_that_rebuild_an_answer_leave_out_every_other_statement():
    cells = ["%matplotlib inline\nimport torch; stolen = open('/etc/hostname').read()\nfrom torch import nn",
             "@torch.no_grad()\ndef f(x,\n      k=2):\n    return x * k  # μ\n\n\nprint(f(1))\nf.__code__ = None",
             "class Net(nn.Module):\n    pass\nSIZES = [16, 32]\ng = f\nh = lambda x: x\nn = Net()\n"
             "import course_lib.checks as c; c.inputs_after = h\nfor i in range(3):\n    g(i)",
             "def broken(:"]
    definitions = [d for cell in reading.parse_cells(cells) for d in cell.definitions]
    assert [d.source for d in definitions] == [
        "import torch", "from torch import nn", "@torch.no_grad()\ndef f(x,\n      k=2):\n    return x * k",
        "class Net(nn.Module):\n    pass", "SIZES = [16, 32]", "g = f", "h = lambda x: x",
        "import course_lib.checks as c"]
    # what `g` needs: the imports, `f` (which g names), and nothing else (not Net, SIZES or h)
    assert reading.needed_for("g", definitions) == [
        "import torch", "from torch import nn", "@torch.no_grad()\ndef f(x,\n      k=2):\n    return x * k", "g = f",
        "import course_lib.checks as c"]


def test_a_class_statement_the_answer_does_not_use_never_runs_where_the_answer_is_probed():
    """A statement that patches a probe from inside a class body elsewhere in the notebook (a hostile reader's
    attack on the first version of the probe sandbox, which ran every def and class) is not rebuilt."""
    cells = ["import torch", "class _:\n    import course_lib.checks_05 as c\n    c._probe_gradient_path = print",
             "def helper(x):\n    return 2 * x\n\n\ndef reparameterize(mean, logvar, eps):\n"
             "    return helper(mean) + torch.exp(0.5 * logvar) * eps"]
    definitions = [d for cell in reading.parse_cells(cells) for d in cell.definitions]
    rebuilt = reading.needed_for("reparameterize", definitions)
    assert not any("_probe_gradient_path" in source for source in rebuilt)
    assert [s.split("(")[0] for s in rebuilt] == ["import torch", "def helper", "def reparameterize"]


def test_where_no_sandbox_can_start_the_grader_refuses_and_says_how_to_get_one(tmp_path, monkeypatch, capsys):
    _tiny_batch(tmp_path, ["a"])
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on it
    assert cli.main([str(tmp_path / "in"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "bwrap is not installed" in err and "apt-get install bubblewrap" in err and "--no-sandbox" in err
    assert not (tmp_path / "out" / "gradebook.csv").exists()


def test_split_checks_removes_only_top_level_check_lines():
    source = 'x = 1\ncheck("02.1", f)  # graded\n    check("02.2", g)\ny = check("02.3", h)'
    kept, found = reading.split_checks(source)
    assert found == [("02.1", "f")]
    assert kept == 'x = 1\n    check("02.2", g)\ny = check("02.3", h)'


def test_the_plan_grades_each_exercise_after_its_check_line_or_after_its_answers_last_definition():
    sources = ["import torch", "def mean_image(a, b, c):\n    return 1", 'check("00.2", binarise)',
               "%time x = 1\ndef on_fraction(x, t=0.5):\n    return 2", "on_fraction = lambda x, t=0.5: 3", "print()"]
    steps = reading.plan(reading.parse_cells(sources), ["00.1", "00.2", "00.3"])
    graded = [(s.key, s.index, s.names, bool(s.note)) for s in steps if s.key]
    assert graded == [("00.1", 1, ("mean_image",), True), ("00.2", 2, ("binarise",), False),
                      ("00.3", 4, ("on_fraction",), True)]
    assert [s.source for s in steps if s.key is None][2] == ""


def test_a_name_that_a_spreadsheet_would_run_is_written_as_text():
    assert [report.safe_cell(n) for n in ["=1+1", "+1", "-1", "@A1", "\tx", "\rx", "ana", "-"]] == \
        ["'=1+1", "'+1", "'-1", "'@A1", "'\tx", "'\rx", "ana", "'-"]


def test_cli_rejects_an_output_folder_inside_the_submissions(tmp_path):
    with pytest.raises(SystemExit) as stopped:
        cli.main([str(tmp_path), "--out", str(tmp_path / "grades")])
    assert stopped.value.code == 2


def test_a_long_line_is_split_in_linear_time():
    """A check line padded with a million spaces once took hours to match (two adjacent \\s* in the pattern),
    stalling the whole batch before any sandbox started; the alarm fails the test instead of hanging."""
    line = 'check("00.1", mean_image)' + " " * 1_000_000 + "x"
    previous = signal.signal(signal.SIGALRM, lambda *_: pytest.fail("split_checks took over 20 s on one line"))
    signal.alarm(20)
    try:
        for source in (line, line.replace("x", ";" + " " * 1_000_000 + "x"), "check(" + " " * 1_000_000):
            kept, found = reading.split_checks(source)
            assert found == [] and kept == source
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert reading.split_checks('check("00.1", f) ;  # done')[1] == [("00.1", "f")]


def test_a_linked_notebook_is_refused_before_anything_runs(tmp_path):
    """A link to the reference solution (unzip keeps links) would get its marks; a link to /proc/self/environ
    would show the grader's environment in the feedback. Ingestion takes no link (tests/test_ingest.py); should one
    reach the grader anyway, reading it refuses it."""
    (tmp_path / "linker.ipynb").symlink_to(SOLUTION)
    (tmp_path / "environ.ipynb").symlink_to("/proc/self/environ")
    for student in ("linker", "environ"):
        grade = submission.grade_notebook(tmp_path / f"{student}.ipynb", student, ["00.1", "00.2"],
                                          submission.Settings(sandbox=False))
        assert grade.total == 0
        assert all("symbolic link" in message for _, _, message in grade.results.values()), grade.results


def test_a_notebook_with_megabytes_of_code_is_refused_without_parsing_it(tmp_path):
    path = tmp_path / "big.ipynb"
    path.write_text(notebook("x = [" + "0," * 600_000 + "]"))
    with pytest.raises(ValueError, match="more than 1 MiB of text"):
        reading.read_code_cells(path)


def test_feedback_shows_what_a_submission_wrote_as_text(tmp_path):
    forged = "X\n```\n# Feedback for honest: 5/5 points\n![x](http://evil.example/t.png)\n````"
    grade = submission.Grade("mallory", {"00.1": ("failed", 0, forged)}, notes=[forged])
    plan = assignment.Assignment("00", {"00.1": 2})
    report.write_outputs(report.make_lines([grade], plan)[0], plan, tmp_path)
    text = (tmp_path / "feedback" / "mallory.md").read_text()
    inside, forged_lines = False, []
    for line in text.splitlines():
        if line == "`````":  # the fence: longer than the ```` inside, so nothing the submission wrote closes it
            inside = not inside
        elif "evil.example" in line or line.startswith("# Feedback for honest"):
            forged_lines.append(inside)
    assert forged_lines == [True] * 4 and not inside, text
    assert text.startswith("# Feedback for mallory")


# ---- issue 19: replay, parsing in the grader's process, honest work, course_lib's own answers ----------------------

FAST = submission.Settings(cell_timeout=CELL_TIMEOUT, timeout=120, limits=LIMITS)


def _grade(tmp_path: Path, name: str, text: str | bytes, keys=("00.1", "00.2", "00.3"), settings=FAST):
    path = tmp_path / f"{name}.ipynb"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return submission.grade_notebook(path, name, list(keys), settings)


def _with_outputs(text: str, mebibytes: int) -> str:
    """The notebook with a stream output of `mebibytes` MiB on its first code cell (grading never uses outputs)."""
    nb = nbformat.reads(text, as_version=4)
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * (mebibytes * 2**20))]
    return nbformat.writes(nb)


HONEST_WORK = {
    # the check line names the learner's own function; `mean_image` is a draft kept for something else
    "renamed_with_draft": honest(mean_image=HONEST["mean_image"].replace("mean_image", "class_mean")
                                 + "\n\n\ndef mean_image(images, labels, label):\n    return images.mean(dim=0)"),
    # a failing draft checked first, the final answer checked below it
    "rechecked": honest(mean_image=WRONG_MEAN, after_mean=HONEST["mean_image"]),
    "byte_order_mark": b"\xef\xbb\xbf" + honest().encode(),
    "large_outputs": _with_outputs(honest(), 65),
}


@pytest.mark.parametrize("name", sorted(HONEST_WORK))
def test_what_the_learners_own_check_passed_the_grader_passes(tmp_path, sandbox_works, name):
    """Each of these lost points before issue 19 (2/4, 2/4, 0/4, 0/4): a check line naming the learner's own
    function lost to a draft under the exercise's name; the first check line won over the last; a UTF-8 BOM read
    as "not UTF-8 JSON"; 65 MiB of outputs were refused, though grading never uses them."""
    grade = _grade(tmp_path, name, HONEST_WORK[name])
    assert grade.total == 4, (grade.results, grade.notes)


def test_answers_that_are_course_libs_own_functions_get_0_and_a_flag(tmp_path, sandbox_works):
    text = notebook("import torch\nfrom course_lib import models\nfrom course_lib.checks import check",
                    "gaussian_kl = models.gaussian_kl\ncheck('05.2', gaussian_kl)",
                    "from course_lib.latent import slerp\ncheck('06.2', slerp)",
                    "def _helper(mean, eps):\n    return models.reparameterize(mean, eps)\n\n\n"
                    "def reparameterize(mean, logvar, eps):\n    return _helper(mean, logvar)\n\n\n"
                    "check('05.1', reparameterize)",
                    "def iwae_estimate(log_px_z, log_pz, log_qz):\n    w = log_px_z + log_pz - log_qz\n"
                    "    return torch.logsumexp(w, 1) - torch.log(torch.tensor(float(w.shape[1])))\n\n\n"
                    "check('05.4', iwae_estimate)")
    keys = ["05.1", "05.2", "05.4", "06.2"]
    grade = _grade(tmp_path, "library", text, keys)
    assert {key: points for key, (_, points, _) in grade.results.items()} == {"05.1": 0, "05.2": 0, "05.4": 2,
                                                                             "06.2": 0}
    assert grade.flags == {"05.1": "course_lib.models.reparameterize", "05.2": "course_lib.models.gaussian_kl",
                           "06.2": "course_lib.latent.slerp"}
    assert "uses course_lib's own `course_lib.latent.slerp`; write it yourself" in grade.results["06.2"][2]
    plan = assignment.Assignment("05", {key: course_lib.checks.get(key).points for key in keys})
    report.write_outputs(report.make_lines([grade], plan)[0], plan, tmp_path / "out")
    rows = list(csv.reader((tmp_path / "out" / "gradebook.csv").open()))
    assert rows[0][-2] == "flags" and rows[1][-2] == ("05.1 uses course_lib.models.reparameterize; 05.2 uses "
                                                       "course_lib.models.gaussian_kl; 06.2 uses course_lib.latent.slerp")


@pytest.mark.parametrize("solution", sorted((ROOT / "solutions").glob("0*.ipynb")), ids=lambda p: p.stem)
def test_no_solution_answer_is_taken_for_course_libs_own(solution):
    cells = reading.parse_cells(reading.read_code_cells(solution))
    steps = reading.plan(cells, course_lib.checks.load(solution.name[:2]))
    assert [(s.key, s.library) for s in steps if s.key and s.library] == []


def test_the_library_rule_follows_aliases_helpers_star_imports_and_subclasses():
    cells = reading.parse_cells([
        "from course_lib import models as m\nfrom course_lib.checks_06 import *\nfrom course_lib.checks import check",
        "def helper(a):\n    return m.gaussian_kl(a, a)", "def gaussian_kl(mean, logvar):\n    return helper(mean)",
        "def slerp(a, b, t):\n    return lerp(a, b, t)", "class Encoder(m.ConvEncoder):\n    pass",
        "def elbo(x):\n    return __import__('course_lib.models').f(x)",
        "vae = m.VAE()\ndef mean_image(images, labels, m):\n    return m + torch.stack([vae, images]).mean(0)",
        "def diversity(x):\n    return torch.cdist(x, x).mean()\ncheck('06.4', diversity)"])
    uses = {name: use for cell in cells for name, use in cell.library.items()}
    assert uses == {"m": "course_lib.models", "helper": "course_lib.models.gaussian_kl",
                    "gaussian_kl": "course_lib.models.gaussian_kl", "slerp": "course_lib.latent.lerp",
                    "lerp": "course_lib.latent.lerp", "Encoder": "course_lib.models.ConvEncoder",
                    "elbo": "course_lib (named in a string)", "vae": "course_lib.models.VAE"}


def test_magics_are_parsed_in_the_sandbox_not_in_the_graders_process(tmp_path, sandbox_works):
    """A notebook of magic and shell-escape lines without check lines took minutes of the grader's own CPU
    (IPython's transformers take quadratic time per cell), holding the GIL against every other grading thread."""
    magics = "\n".join("%time x = 1" if i % 2 else "!true" for i in range(400))
    started = time.thread_time()
    grade = _grade(tmp_path, "magics", notebook(*[magics] * 8, HONEST["mean_image"].split("\n\n\ncheck(")[0]),
                   settings=replace(FAST, cell_timeout=10, timeout=30))
    cpu = time.thread_time() - started
    assert cpu < 5, f"the grader's thread used {cpu:.1f} s of CPU"
    print(f"grader thread CPU: {cpu:.2f} s; notes: {grade.notes}")


LEAKER = notebook(IMPORTS, """seen = []
def binarise(images, threshold=0.5):
    seen.append(images.clone())
    return (images > threshold).float()
check("00.2", binarise)""", "def on_fraction(images, threshold=0.5):\n    return images\ncheck('00.3', on_fraction)", "text = ' '.join(f'{v:.6f}' for s in seen for v in s.flatten().tolist())",
                  *[f"raise ValueError('LEAK{i} ' + text[{i * 150}:{(i + 1) * 150}])" for i in range(60)])


def test_an_answer_cannot_carry_the_graders_inputs_back_in_full(tmp_path, sandbox_works):
    """One answer records what it is sent and later cells raise errors holding it; another returns its input. The
    feedback keeps a bounded part of that (a few values, a few notes), never the inputs."""
    seed = 2**200 + 12345
    grade = _grade(tmp_path, "leaker", LEAKER, ["00.2", "00.3"], replace(FAST, seed=seed))
    plan = assignment.Assignment("00", {key: course_lib.checks.get(key).points for key in ["00.2", "00.3"]})
    report.write_outputs(report.make_lines([grade], plan)[0], plan, tmp_path / "out")
    feedback = (tmp_path / "out" / "feedback" / "leaker.md").read_text()
    seen = []
    course_lib.checks.evaluate(course_lib.checks.get("00.2"), course_lib.checks.LocalAnswer(
        lambda images, threshold=0.5: seen.append(images.clone()) or (images > threshold).float()), seed)
    values = {f"{v:.6f}" for s in seen for v in s.flatten().tolist()}
    leaked = [value for value in values if value in feedback]
    assert len(values) > 40 and len(leaked) < len(values) / 4, f"{len(leaked)} of {len(values)} input values leaked"
    assert "got:      'shape (5, 1, 6, 6)'" in feedback  # what on_fraction returned: its shape, not its values
    assert "more notes, not shown" in feedback and "its message is not shown" in feedback


@pytest.mark.parametrize("solution", sorted((ROOT / "solutions").glob("0*.ipynb")), ids=lambda p: p.stem)
def test_each_solution_gets_full_marks_in_the_sandbox_and_no_cell_fails(solution, sandbox_works):
    """The real notebooks under the seccomp filter, the uid drop and the sandbox's own /etc: every exercise passes
    and no cell raises (a data file the sandbox uid could not read made notebook 06's cells raise PermissionError
    while its answers still passed)."""
    keys = course_lib.checks.load(solution.name[:2])
    grade = submission.grade_notebook(solution, solution.stem, keys, submission.Settings(cell_timeout=300,
                                                                                         timeout=1200))
    assert grade.total == sum(course_lib.checks.get(key).points for key in keys), grade.results
    assert grade.notes == []


# ---- issue 19: the grader run as an unprivileged user (CI runs the suite as root) ---------------------------------

def _ci_skip(reason: str) -> None:
    """Skip, except under CI, where the suite must run the grader both as root and as an unprivileged user."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must also grade as an unprivileged user: {reason}")
    pytest.skip(reason)


def _others_may_read(path: Path) -> bool:
    return path.stat().st_mode & 0o005 == 0o005


def _reachable_by_others(paths: list[Path]) -> tuple[list[str], list[str]]:
    """Shell lines that, in a private mount namespace, make `paths` reachable by any user without changing the host:
    every folder above them that others may not enter (e.g. /root, mode 0700, holding pyenv's Python) gets an empty
    0755 tmpfs over it, with the paths below it bound back in. Also the paths no mount can help (they themselves are
    not readable by others), with the fix."""
    lines, unfixable, hidden = [], [], {}
    for path in paths:
        if not _others_may_read(path):
            unfixable.append(f"{path} is mode {path.stat().st_mode & 0o777:o}: chmod o+rX it")
            continue
        blocked = [parent for parent in reversed(path.parents) if not parent.stat().st_mode & 0o001]
        if blocked:
            hidden.setdefault(blocked[0], []).append(path)
    for k, (top, below) in enumerate(hidden.items()):
        for i, path in enumerate(below):
            lines.append(f"mkdir -p stage/{k}-{i} && mount --bind {shlex.quote(str(path))} stage/{k}-{i}")
        lines.append(f"mount -t tmpfs -o mode=0755,size=1m course-grade-hide {shlex.quote(str(top))}")
        for i, path in enumerate(below):
            lines.append(f"mkdir -p {shlex.quote(str(path))} && mount --bind stage/{k}-{i} {shlex.quote(str(path))}")
    return lines, unfixable


def test_a_grader_run_as_an_unprivileged_user_grades_in_its_sandbox(throwaway_user, sandbox_works):
    """The grader as a user of its own (no root, no capability): its sandboxes run as that user, with the same
    filter and identity. Python may live where that user cannot go (pyenv under /root, mode 0700), so it runs in a
    private mount namespace that shows it only what it needs; nothing on the host changes."""
    missing = [tool for tool in ("unshare", "setpriv", "mount") if shutil.which(tool) is None]
    if missing:
        _ci_skip(f"{', '.join(missing)} not found (util-linux provides them)")
    uid, gid = throwaway_user.pw_uid, throwaway_user.pw_gid
    work = Path(tempfile.mkdtemp(prefix="course-grade-user-"))
    try:
        (work / "in").mkdir()
        (work / "home").mkdir()
        (work / "stage").mkdir()
        places = {"OUT": str(work / "out"), "SUBMITTED": str(work / "in"), "HOME": str(work / "home")}
        (work / "in" / "a.ipynb").write_text(honest())
        (work / "in" / "attacker.ipynb").write_text(honest(KEYS + f"""import json, os
found = []
for path in [{places['OUT']!r} + '/gradebook.csv', {places['SUBMITTED']!r} + '/a.ipynb', {places['HOME']!r} + '/x']:
    try:
        open(path, 'a').close()
        found.append(path)
    except OSError:
        pass
if libc.syscall(ADD_KEY, b'user', b'course-attack-user', b'answer code', 11, ctypes.c_int(RINGS['session'])) >= 0:
    found.append('key')
""" + REPORT))
        for path in [work, *work.rglob("*")]:
            if not path.is_relative_to(work / "stage"):
                os.chown(path, uid, gid)
        needed = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent, ROOT,
                  *(Path(p) for p in site.getsitepackages() if p in sys.path)]
        needed = sorted({p.resolve() for p in needed})
        needed = [p for p in needed if not any(p != q and p.is_relative_to(q) for q in needed)]
        mounts, unfixable = _reachable_by_others(needed)
        if unfixable:
            _ci_skip(f"another user cannot read what the grader needs: {'; '.join(unfixable)}")
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(work / "home"), "LANG": "C.UTF-8",
               "PYTHONPATH": str(ROOT), "COURSE_FAST": "1", "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
        grade = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--", "env", "-i",
                 *(f"{k}={v}" for k, v in env.items()), sys.executable, "-m", "course_lib.grading", str(work / "in"),
                 "--out", str(work / "out"), "--assignment", "00", "--jobs", "1", "--cell-timeout", str(CELL_TIMEOUT),
                 "--memory", "2045M"]  # a size that marks this test's runners
        script = "set -e\n" + "\n".join(mounts) + "\nexec " + shlex.join(grade)
        grader = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script],
                                  cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        runners: dict[int, set[int]] = {}  # pid -> its real, effective, saved and file system uids
        while grader.poll() is None:
            for pid in _runners(memory=2045 * 2**20):
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                    runners[pid] = {int(u) for u in status.split("\nUid:")[1].split("\n")[0].split()}
                except (OSError, IndexError):
                    continue
            time.sleep(0.2)
        out, err = grader.communicate()
        assert grader.returncode == 0, (out[-2000:], err[-3000:])
        assert runners and set().union(*runners.values()) == {uid}, runners  # every sandbox ran as that user
        assert (work / "out" / "gradebook.csv").read_text() == (
            f"student,00.1,00.2,00.3,{TAIL},checks\na,2,1,1,4,4,submitted,0,0,0,,a,,,{VERSION}\n"
            f"attacker,2,1,1,4,4,submitted,0,0,0,,attacker,,,{VERSION}\n")
        assert (work / "out" / "gradebook.csv").stat().st_uid == uid  # written by that user, not by root
        feedback = (work / "out" / "feedback" / "attacker.md").read_text()
        assert "REPORT []" in feedback, feedback  # it wrote nothing, planted nothing
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_the_grader_reads_a_prediction_a_value_answer_where_the_notebook_computed_it(tmp_path, sandbox_works):
    """A prediction is a value, not a function: the grader reads it in the submission's sandbox with the value_of
    probe, after the cell of its check line. `2 / 3` is no literal, so it could not be rebuilt in the probe sandbox;
    `...` is the exercise notebook's blank."""
    predictions = {"done": ('my_farthest_machine = " Nature"', "my_gap_share = 2 / 3"),
                   "blank": ("my_farthest_machine = ...", "my_gap_share = ...")}
    settings = submission.Settings(cell_timeout=30, limits=LIMITS, seed=1)
    grades = {}
    for student, (choice, share) in predictions.items():
        path = tmp_path / f"{student}.ipynb"
        path.write_text(notebook("from course_lib.checks import check", f'{choice}\ncheck("01.5", my_farthest_machine)',
                                 f'{share}\ncheck("04.6", my_gap_share)', "my_gap_share = 0.0  # changed later"))
        grades[student] = submission.grade_notebook(path, student, ["01.5", "04.6"], settings)
    done, blank = grades["done"], grades["blank"]
    assert done.results["04.6"][:2] == ("passed", 1), done.results
    assert done.results["01.5"][:2] == ("failed", 0) and "measurement supports" in done.results["01.5"][2]
    assert [blank.results[key][:2] for key in ("01.5", "04.6")] == [("not done yet", 0)] * 2, blank.results
    assert done.notes == blank.notes == []
