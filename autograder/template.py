"""A pre-imported kernel template, forked into each new sandbox: `import torch` is paid once.

Run as its own process by the grader (sandbox.Template), as root, never with student code in it:
it imports ipykernel, numpy and torch (CUDA not initialised) and loads the agent every kernel
gets (agent.py), then waits for requests on stdin.
For each, it forks; the child builds the same cage bubblewrap builds — new mount, pid, network,
IPC, UTS and cgroup namespaces, a fresh root of read-only binds and sized tmpfs mounts,
pivot_root, the old root detached — joins the submission's cgroup, sets rlimits, drops to the
sandbox's uid with no capability, no_new_privs and an empty bounding set, scrubs the environment,
closes every inherited descriptor, and only then starts the kernel in-process from the already
imported modules. The hostile corpus runs against both ways of starting a kernel.

Every process of a cage dies with the grader, as under bubblewrap's --die-with-parent: the
template with its stdin, the rest by the parent-death signal, armed again after each change of
uid (which clears it).

This file imports nothing from the package and loads only agent.py, the code every kernel gets
anyway: the child must carry no grader state into the cage.
"""

import ctypes
import json
import os
import resource
import select
import signal
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 24, 38
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEV_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
             "stderr": "/proc/self/fd/2", "core": "/proc/kcore"}
PROC_COVERED = ("sys", "sysrq-trigger", "irq", "bus")

libc = ctypes.CDLL(None, use_errno=True)


def _check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(source, target, fstype, flags, data=None):
    _check(libc.mount(source.encode() if source else None, target.encode(),
                      fstype.encode() if fstype else None, ctypes.c_ulong(flags),
                      data.encode() if data else None), f"mount {source or fstype} on {target}")


def bind(source, target, *, readonly, device=False):
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    mount(source, target, None, MS_BIND | MS_REC)
    flags = MS_BIND | MS_REMOUNT | MS_NOSUID | (0 if device else MS_NODEV)
    if readonly:
        flags |= MS_RDONLY
    # Keep the restrictions the source already has (the exchange folder's noexec), as bwrap does.
    flags |= os.statvfs(source).f_flag & (MS_RDONLY | MS_NOEXEC | (0 if device else MS_NODEV))
    mount(None, target, None, flags)


def tmpfs(target, size, mode):
    os.makedirs(target, exist_ok=True)
    mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode={mode:o}")


def build_root(spec, root):
    """The sandbox's filesystem view, the same as cage.bwrap_argv gives (tests/test_cage.py)."""
    tmpfs(root, 16 * 2**20, 0o755)
    bind("/usr", f"{root}/usr", readonly=True)
    for name, target in spec["symlinks"].items():
        os.symlink(target, f"{root}/{name}")
    for path in spec["ro_files"]:
        bind(path, root + path, readonly=True)
    build_dev(spec, f"{root}/dev")
    tmpfs(f"{root}/tmp", spec["tmp_bytes"], 0o1777)
    os.makedirs(f"{root}/home", mode=0o755, exist_ok=True)
    tmpfs(root + spec["home"], spec["disk_bytes"], 0o700)
    os.chown(root + spec["home"], spec["uid"], spec["uid"])
    for path in spec["python_roots"]:
        bind(path, root + path, readonly=True)
    bind(spec["ipc_dir"], root + spec["ipc_dir"], readonly=False)
    os.makedirs(f"{root}/proc", exist_ok=True)
    mount("proc", f"{root}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for name in PROC_COVERED:  # as bubblewrap: the kernel's writable knobs, read-only
        path = f"{root}/proc/{name}"
        if os.path.exists(path) and os.access(path, os.W_OK):
            mount(path, path, None, MS_BIND | MS_REC)
            mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV
                  | MS_NOEXEC)


def build_dev(spec, dev):
    """/dev as bubblewrap's --dev makes it, with a sized /dev/shm and the GPU nodes given."""
    tmpfs(dev, 2**20, 0o755)
    for name in DEVICES:
        if os.path.exists(f"/dev/{name}"):
            bind(f"/dev/{name}", f"{dev}/{name}", readonly=False, device=True)
    for host, inside in spec["devices"]:
        bind(host, dev + inside[len("/dev"):], readonly=False, device=True)
    for name, target in DEV_LINKS.items():
        os.symlink(target, f"{dev}/{name}")
    os.makedirs(f"{dev}/pts", exist_ok=True)
    mount("devpts", f"{dev}/pts", "devpts", MS_NOSUID | MS_NOEXEC,
          "newinstance,ptmxmode=0666,mode=620")
    os.symlink("pts/ptmx", f"{dev}/ptmx")
    tmpfs(f"{dev}/shm", spec["tmp_bytes"], 0o1777)


def pivot(root):
    os.makedirs(f"{root}/.old", exist_ok=True)
    number = SYS_PIVOT_ROOT[os.uname().machine]
    _check(libc.syscall(number, root.encode(), f"{root}/.old".encode()), "pivot_root")
    os.chdir("/")
    _check(libc.umount2(b"/.old", MNT_DETACH), "umount old root")
    os.rmdir("/.old")
    mount(None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def drop_privileges(uid):
    """No way back to root: no_new_privs, empty bounding set, then every id set to `uid`."""
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    with open("/proc/sys/kernel/cap_last_cap") as fh:
        last = int(fh.read())
    for cap in range(last + 1):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # leaving uid 0 clears the permitted and effective sets
    if os.getuid() == 0 or os.geteuid() == 0:
        raise OSError("still root after setresuid")


def set_limits(limits):
    for name, value in limits.items():
        resource.setrlimit(getattr(resource, name), (value, value))


def close_inherited():
    os.closerange(3, 65536)
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)


def kernel_main(spec):
    """In the cage, as the sandbox uid: become an ipykernel from the pre-imported modules."""
    os.environ.clear()
    os.environ.update(spec["env"])
    os.chdir(spec["home"])
    sys.argv = ["ipykernel_launcher", "-f", spec["connection_file"],
                "--HistoryManager.enabled=False", "--IPKernelApp.log_level=CRITICAL"]
    sys.path[:] = [p for p in sys.path if p and p.startswith(tuple(spec["python_roots"]))]
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    from ipykernel import kernelapp

    app = kernelapp.IPKernelApp.instance()
    app.initialize()
    agent = sys.modules.get(AGENT_MODULE)  # loaded by serve(); a bare kernel has none
    if agent is not None:
        agent.agent.install(app.kernel)
    app.start()
    os._exit(0)


def die_with_parent(parent=None, lifeline=None):
    """(Re-)arm the parent-death signal, then make sure the parent did not die before that.

    A change of uid clears the signal, so it is armed again after every drop_privileges. The
    parent is checked by its pid where this process sees it, else by a pipe whose other end only
    the parent holds (end-of-file: the parent is gone).
    """
    _check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "parent-death signal")
    if parent is not None and os.getppid() != parent:
        os._exit(111)
    if lifeline is not None and select.select([lifeline], [], [], 0)[0]:
        os._exit(111)


def init(spec, kernel_pid, lifeline):
    """Pid 1 of the sandbox: reap orphans, leave when the kernel does (as bubblewrap's init).

    When it dies, the OS kills every process of the sandbox's pid namespace; it dies itself with
    the process outside that waits for it, which dies with the template, which dies with the
    grader.
    """
    drop_privileges(spec["uid"])
    die_with_parent(lifeline=lifeline)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(0)
        if pid == kernel_pid:
            os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def sandbox_child(spec, template_pid):
    """The forked child, still root: join the cgroup, unshare, build the cage, start the kernel."""
    try:
        os.setsid()
        die_with_parent(parent=template_pid)
        for procs in spec["cgroup_procs"]:
            with open(procs, "w") as fh:
                fh.write(str(os.getpid()))
        close_inherited()
        _check(libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC
                            | CLONE_NEWUTS | CLONE_NEWCGROUP), "unshare")
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        lifeline, held = os.pipe()  # `held` stays open in this process only, for as long as it lives
        first = os.fork()
        if first:  # outside the pid namespace: wait for its init, exit with it
            os.close(lifeline)
            _, status = os.waitpid(first, 0)
            os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
        # Pid 1 of the new namespace (its parent is outside it: getppid() says 0).
        os.close(held)
        die_with_parent(lifeline=lifeline)
        libc.sethostname(b"sandbox", 7)
        os.umask(0o022)  # folders made for the cage: root's, 0755, passable but not writable
        root = spec["root"]
        build_root(spec, root)
        pivot(root)
        kernel = os.fork()
        if kernel:
            init(spec, kernel, lifeline)
        os.close(lifeline)
        set_limits(spec["rlimits"])
        drop_privileges(spec["uid"])
        die_with_parent(parent=1)
        kernel_main(spec)
    except BaseException as exc:  # noqa: BLE001 - a child never returns into the template's loop
        # Say why in the shared folder (same path inside and outside): the grader reports it.
        try:
            with open(os.path.join(spec["ipc_dir"], "cage-error.txt"), "w") as fh:
                fh.write(f"{type(exc).__name__}: {exc}")
        except OSError:
            pass
        os._exit(111)


def probe(uid):
    """What the grader checks before it trusts this machine with cages: the system calls work.

    The same unshare, private mounts, a tmpfs and the drop to an unprivileged uid as a kernel's
    cage, in a throwaway child; exit status 0 when all of them worked.
    """
    _check(libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
                        | CLONE_NEWCGROUP), "unshare")
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    child = os.fork()
    if child == 0:
        try:
            tmpfs("/tmp", 2**20, 0o755)
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            drop_privileges(uid)
            os._exit(0)
        except BaseException as exc:  # noqa: BLE001 - reported through the exit status
            print(f"{type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            os._exit(1)
    _, status = os.waitpid(child, 0)
    sys.exit(os.waitstatus_to_exitcode(status))


AGENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "agent.py")
AGENT_MODULE = "_autograder_agent"


def load_agent():
    """The judge's agent in the kernel (agent.py, the kernel-side code the grader ships into
    every kernel; it holds nothing of the grader), loaded once here as the kernel's first cell
    would load it: each kernel forked from here starts with it, pristine."""
    import types

    with open(AGENT, encoding="utf-8") as fh:
        source = fh.read()
    module = types.ModuleType(AGENT_MODULE)
    exec(compile(source, "<autograder agent>", "exec"), module.__dict__)  # noqa: S102
    sys.modules[AGENT_MODULE] = module


def serve():
    """Requests on stdin (one JSON object a line), the forked child's pid on stdout.

    stdin is the lifeline to the grader: at its end (the grader exited or was killed), the
    template exits, and each cage's outer process, armed with the parent-death signal, follows.
    """
    for name in sys.argv[1:]:
        __import__(name)
    load_agent()
    signal.signal(signal.SIGCHLD, lambda *_: _reap())
    out = sys.stdout
    me = os.getpid()
    out.write(json.dumps({"ready": me}) + "\n")
    out.flush()
    for line in sys.stdin:
        spec = json.loads(line)
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            sandbox_child(spec, me)
            os._exit(111)
        out.write(json.dumps({"pid": pid, "request": spec.get("request")}) + "\n")
        out.flush()
    os._exit(0)


def _reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


if __name__ == "__main__":
    if sys.argv[1:2] == ["--probe"]:
        probe(int(sys.argv[2]))
    serve()
