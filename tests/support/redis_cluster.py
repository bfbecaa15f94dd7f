"""Real multi-process Redis deployments for the scale tests: a Redis Cluster and a Sentinel group.

Every process is a child of this test session on a free loopback port; only those are ever
stopped, killed or flushed (the system Redis on 6379 is never touched).
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from collections.abc import Callable

import redis

from tests.support.redis_servers import RedisServer, free_port, redis_server_binary

#: How long a silent node counts as failing; failover follows within about 2-3 × this.
NODE_TIMEOUT_MS = 1000


def wait_for(
    condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05
) -> float:
    """Poll ``condition`` until it holds; return the seconds it took, or fail naming ``what``."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        try:
            if condition():
                return time.monotonic() - started
        except (redis.exceptions.RedisError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_cluster_port() -> int:
    """A free port whose cluster-bus twin (port + 10000) is free too; both below 65536."""
    for _ in range(200):
        port = random.randint(20000, 45000)
        if _port_free(port) and _port_free(port + 10000):
            return port
    raise RuntimeError("no free port pair for a cluster node")


class ClusterNodeServer(RedisServer):
    """A redis-server with cluster mode on; its nodes.conf lives in its own directory, so a
    restart rejoins the cluster with the same identity."""

    def __init__(self) -> None:
        super().__init__(
            port=free_cluster_port(),
            extra_args=(
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                str(NODE_TIMEOUT_MS),
                # A replica that lost its master for a while may still be promoted (tests kill
                # masters on purpose); the default factor would refuse after long outages.
                "--cluster-replica-validity-factor",
                "0",
            ),
        )

    @property
    def name(self) -> str:
        return f"127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL: the node vanishes without a goodbye, as a crashed host would."""
        if self.process is None:
            return
        if self.frozen:
            self.thaw()
        self.process.kill()
        self.process.wait(5)
        self.process = None


class ClusterDeployment:
    """``masters`` primaries with ``replicas`` replicas each (``redis-cli --cluster create``)."""

    def __init__(self, masters: int = 3, replicas: int = 1) -> None:
        self.nodes = [ClusterNodeServer() for _ in range(masters * (1 + replicas))]
        self.masters = masters
        self.replicas = replicas

    @property
    def startup_nodes(self) -> list[str]:
        return [f"redis://{node.name}" for node in self.nodes]

    def start(self, timeout: float = 30.0) -> ClusterDeployment:
        for node in self.nodes:
            node.start()
        cli = shutil.which("redis-cli")
        if cli is None:
            raise RuntimeError(
                "redis-cli is not on PATH (it ships with redis-server / redis-tools)."
            )
        subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *(node.name for node in self.nodes),
                "--cluster-replicas",
                str(self.replicas),
                "--cluster-yes",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
        )
        self.wait_healthy(timeout)
        return self

    def node(self, port: int) -> ClusterNodeServer:
        return next(node for node in self.nodes if node.port == port)

    def live_nodes(self) -> list[ClusterNodeServer]:
        return [node for node in self.nodes if node.process is not None and not node.frozen]

    def roles(self) -> dict[int, str]:
        """port → "master" / "slave", as the live nodes report themselves."""
        return {
            node.port: node.client().execute_command("ROLE")[0].decode()
            for node in self.live_nodes()
        }

    def masters_by_port(self) -> list[ClusterNodeServer]:
        return [self.node(port) for port, role in self.roles().items() if role == "master"]

    def master_of_slot(self, slot: int) -> ClusterNodeServer:
        for node in self.live_nodes():
            for start, end, master, *_ in node.client().execute_command("CLUSTER SLOTS"):
                if start <= slot <= end:
                    return self.node(int(master[1]))
        raise LookupError(slot)

    def wait_healthy(self, timeout: float = 30.0) -> float:
        """Wait until every live node says cluster_state:ok, every slot is served, and every
        master has its replicas attached and in sync."""

        def healthy() -> bool:
            for node in self.live_nodes():
                info = node.client().execute_command("CLUSTER INFO")
                if (
                    info.get("cluster_state") != "ok"
                    or str(info.get("cluster_slots_ok")) != "16384"
                ):
                    return False
            masters = self.masters_by_port()
            if len(masters) != self.masters:
                return False
            expected = self.replicas if len(self.live_nodes()) == len(self.nodes) else 0
            for master in masters:
                info = master.client().info("replication")
                synced = sum(
                    1
                    for key, value in info.items()
                    if key.startswith("slave")
                    and isinstance(value, dict)
                    and value.get("state") == "online"
                )
                if synced < expected:
                    return False
            return True

        return wait_for(healthy, timeout, "a healthy cluster")

    def kill_master_of_slot(self, slot: int) -> ClusterNodeServer:
        """SIGKILL the master serving ``slot`` (its replica takes over within a few seconds)."""
        victim = self.master_of_slot(slot)
        victim.kill()
        return victim

    def wait_promoted(self, slot: int, victim: ClusterNodeServer, timeout: float = 20.0) -> float:
        """Seconds until a node other than ``victim`` serves ``slot``, as the survivors see it."""
        return wait_for(
            lambda: self.master_of_slot(slot).port != victim.port,
            timeout,
            f"a replica to take over slot {slot}",
        )

    def flush(self) -> None:
        for master in self.masters_by_port():
            master.client().flushall()

    def reset_stats(self) -> None:
        for node in self.live_nodes():
            node.client().config_resetstat()

    def commandstats(self, command: str = "evalsha") -> dict[int, int]:
        """port → calls of ``command`` since the last reset_stats(), per live master."""
        out = {}
        for master in self.masters_by_port():
            stats = master.client().info("commandstats")
            out[master.port] = int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))
        return out

    def restore(self, timeout: float = 30.0) -> None:
        """Restart killed nodes (they rejoin as replicas) and wait for a healthy cluster."""
        for node in self.nodes:
            if node.process is None:
                node.start()
        self.wait_healthy(timeout)

    def close(self) -> None:
        for node in self.nodes:
            node.close()


class SentinelProcess(RedisServer):
    """``redis-server <config> --sentinel``; a sentinel rewrites its config file: one each."""

    def __init__(
        self,
        master_port: int,
        service: str,
        quorum: int,
        down_after_ms: int,
        failover_timeout_ms: int,
    ) -> None:
        super().__init__()
        self.config = self.dir / "sentinel.conf"
        self.config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndaemonize no\ndir {self.dir}\n"
            f"logfile {self.dir / 'redis.log'}\n"
            f"sentinel monitor {service} 127.0.0.1 {master_port} {quorum}\n"
            f"sentinel down-after-milliseconds {service} {down_after_ms}\n"
            f"sentinel failover-timeout {service} {failover_timeout_ms}\n"
            f"sentinel parallel-syncs {service} 1\n"
        )

    def start(self, timeout: float = 10.0) -> SentinelProcess:
        self.process = subprocess.Popen(
            [redis_server_binary(), str(self.config), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.wait_ready(timeout)
        return self


class SentinelGroup:
    """One master, ``replicas`` replicas and ``sentinels`` sentinels watching ``service``."""

    def __init__(
        self,
        service: str = "rlgmaster",
        replicas: int = 1,
        sentinels: int = 3,
        quorum: int = 2,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 3000,
    ) -> None:
        self.service = service
        self.master = RedisServer()
        # Replicas announce themselves on loopback; the sentinels find them through the master.
        self.replicas = [
            RedisServer(extra_args=("--replicaof", "127.0.0.1", str(self.master.port)))
            for _ in range(replicas)
        ]
        self.sentinels = [
            SentinelProcess(self.master.port, service, quorum, down_after_ms, failover_timeout_ms)
            for _ in range(sentinels)
        ]

    @property
    def servers(self) -> list[RedisServer]:
        return [self.master, *self.replicas]

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", s.port) for s in self.sentinels]

    def start(self, timeout: float = 30.0) -> SentinelGroup:
        self.master.start()
        for replica in self.replicas:
            replica.start()
        for sentinel in self.sentinels:
            sentinel.start()
        self.wait_healthy(timeout)
        return self

    def current_master_port(self) -> int:
        """The master port as a majority of the sentinels report it."""
        votes: dict[int, int] = {}
        for sentinel in self.sentinels:
            if sentinel.process is None:
                continue
            try:
                _host, port = sentinel.client().sentinel_get_master_addr_by_name(self.service)
            except (redis.exceptions.RedisError, OSError):
                continue
            votes[int(port)] = votes.get(int(port), 0) + 1
        return max(votes, key=lambda port: votes[port])

    def server(self, port: int) -> RedisServer:
        return next(server for server in self.servers if server.port == port)

    def wait_healthy(self, timeout: float = 30.0) -> float:
        """Wait until the sentinels agree on a live master that has its replicas in sync and
        every sentinel knows the others."""

        def healthy() -> bool:
            port = self.current_master_port()
            master = self.server(port)
            if master.process is None:
                return False
            info = master.client().info("replication")
            if info.get("role") != "master" or info.get(
                "connected_slaves", 0
            ) < self._live_replicas(port):
                return False
            for sentinel in self.sentinels:
                fields = sentinel.client().sentinel_master(self.service)
                if int(fields["num-other-sentinels"]) < len(self.sentinels) - 1:
                    return False
                if int(fields["port"]) != port:
                    return False
            return True

        return wait_for(healthy, timeout, "a healthy sentinel group", interval=0.1)

    def _live_replicas(self, master_port: int) -> int:
        return sum(1 for s in self.servers if s.port != master_port and s.process is not None)

    def kill_master(self, timeout: float = 30.0) -> tuple[RedisServer, RedisServer, float]:
        """SIGKILL the master; return (old master, new master, seconds until the sentinels
        named the new one)."""
        old = self.crash_master()
        started = time.monotonic()
        wait_for(
            lambda: self.current_master_port() != old.port,
            timeout,
            "a sentinel failover",
            interval=0.1,
        )
        new = self.server(self.current_master_port())
        wait_for(
            lambda: new.client().info("replication").get("role") == "master",
            timeout,
            "the promotion",
        )
        return old, new, time.monotonic() - started

    def crash_master(self) -> RedisServer:
        """SIGKILL the master and return at once (the failover has yet to start)."""
        old = self.server(self.current_master_port())
        assert old.process is not None
        old.process.kill()
        old.process.wait(5)
        old.process = None
        return old

    def restore(self, timeout: float = 30.0) -> None:
        """Restart stopped servers; the sentinels reconfigure them as replicas of the new master."""
        for server in self.servers:
            if server.process is None:
                server.start()
        self.wait_healthy(timeout)

    def close(self) -> None:
        for process in [*self.sentinels, *self.replicas, self.master]:
            process.close()


__all__ = [
    "NODE_TIMEOUT_MS",
    "ClusterDeployment",
    "ClusterNodeServer",
    "SentinelGroup",
    "free_port",
    "wait_for",
]
