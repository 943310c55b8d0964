"""Network namespaces for partition tests (root only): each process in its own namespace,
joined to a bridge in the root namespace by a veth pair, no default route. Clients stay in
the root namespace and reach every member through the bridge. Cuts are made by taking a
member's link down or by `prohibit` routes between two members (both directions)."""
import os
import subprocess


def sh(*args, check=True):
    return subprocess.run(list(args), check=check, capture_output=True, text=True)


def available():
    """True when this process may make namespaces (root, with `ip`)."""
    if os.geteuid() != 0:
        return False
    try:
        return sh("ip", "netns", "list", check=False).returncode == 0
    except FileNotFoundError:
        return False


class Net:
    ROOT = "root"

    def __init__(self):
        pid = os.getpid()
        self.tag = f"{pid % 10000:04d}"
        self.prefix = f"10.{100 + pid % 150}.{pid // 150 % 250}."
        self.bridge = f"dsb{self.tag}"
        self.gateway = self.prefix + "1"
        self.members = {}  # name -> (namespace, veth, ip)
        self.routes = []   # (namespace or None, ip) prohibit routes in place
        self.close()  # leftovers of an earlier run with the same pid
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "addr", "add", self.gateway + "/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")

    def add(self, name, host):
        """A namespace for member `name` at <prefix>.<host>; returns its address."""
        ns, veth, ip = f"ds{self.tag}{name}", f"dv{self.tag}{name}", f"{self.prefix}{host}"
        # A veth outlives `ip netns del` until the kernel finishes tearing the namespace
        # down (asynchronously), so a name freed a moment ago may still be taken.
        sh("ip", "link", "del", veth, check=False)
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "link", "set", veth, "master", self.bridge, "up")
        sh("ip", "-n", ns, "addr", "add", ip + "/24", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        self.members[name] = (ns, veth, ip)
        return ip

    def ip(self, name):
        return self.gateway if name == self.ROOT else self.members[name][2]

    def popen(self, name, cmd, **kwargs):
        """Starts `cmd` in member `name`'s namespace (`ip netns exec` execs it: same pid)."""
        return subprocess.Popen(["ip", "netns", "exec", self.members[name][0], *cmd], **kwargs)

    def link(self, name, up):
        sh("ip", "link", "set", self.members[name][1], "up" if up else "down")

    def _prohibit(self, src, dst_ip):
        ns = None if src == self.ROOT else self.members[src][0]
        cmd = ["ip"] + (["-n", ns] if ns else []) + ["route", "add", "prohibit", dst_ip + "/32"]
        if sh(*cmd, check=False).returncode == 0:
            self.routes.append((ns, dst_ip))

    def cut(self, side_a, side_b):
        """No packet between any member of `side_a` and any of `side_b`."""
        for a in side_a:
            for b in side_b:
                self._prohibit(a, self.ip(b))
                self._prohibit(b, self.ip(a))

    def heal(self):
        for ns, dst in self.routes:
            cmd = ["ip"] + (["-n", ns] if ns else []) + ["route", "del", "prohibit", dst + "/32"]
            sh(*cmd, check=False)
        self.routes = []
        for name in self.members:
            self.link(name, True)

    def close(self):
        for ns, dst in self.routes:
            if ns is None:
                sh("ip", "route", "del", "prohibit", dst + "/32", check=False)
        self.routes = []
        # Delete our veths first: deleting one end deletes its peer at once, where
        # deleting the namespace would leave them to the kernel's asynchronous clean-up.
        links = sh("ip", "-o", "link", "show", check=False).stdout.splitlines()
        for line in links:
            fields = line.split(":")
            if len(fields) > 1 and fields[1].strip().split("@")[0].startswith(f"dv{self.tag}"):
                sh("ip", "link", "del", fields[1].strip().split("@")[0], check=False)
        listed = sh("ip", "netns", "list", check=False).stdout.split()
        for entry in listed:
            if entry.startswith(f"ds{self.tag}"):
                sh("ip", "netns", "del", entry, check=False)
        sh("ip", "link", "del", self.bridge, check=False)
