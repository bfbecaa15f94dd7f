"""Round trips and capacity on a real 3-master Redis Cluster (no replicas; started and stopped
here).

    python bench/cluster_roundtrips.py [--n 1000]

Prints, per request shape, the EVALSHA commands the masters executed (INFO commandstats) and the
nodes touched; the client latency of check() against a raw RedisCluster EVALSHA floor; the server
CPU per decision (usec_per_call) and the decisions/s one shard can serve at that cost; concurrent
shards by threads vs one ClusterPipeline; and MEMORY USAGE of one client key per algorithm.
"""

from __future__ import annotations

import argparse
import platform

from _harness import FLOOR_LUA, configure_django, median, per_op_us, print_table

from tests.support.redis_cluster import ClusterDeployment

POLICIES = {
    "sw": {"rate": "1000000000/h", "key": "ip"},
    "fw": {"rate": "1000000000/m", "key": "ip", "algorithm": "fixed_window"},
    "tb": {"rate": "1000000000/h", "key": "ip", "algorithm": "token_bucket"},
    "by_header": {"rate": "1000000000/h", "key": "header:X-Client"},
    # Realistic rates for MEMORY USAGE (a GCRA key lives only as long as its debt).
    "mem_sw": {"rate": "100/m", "key": "ip"},
    "mem_fw": {"rate": "100/m", "key": "ip", "algorithm": "fixed_window"},
    "mem_tb": {"rate": "100/m", "key": "ip", "algorithm": "token_bucket"},
}


def evalsha_stats(cluster: ClusterDeployment) -> tuple[int, float]:
    calls = usec = 0
    for master in cluster.masters_by_port():
        stat = master.client().info("commandstats").get("cmdstat_evalsha", {})
        calls += int(stat.get("calls", 0))
        usec += float(stat.get("usec", 0))
    return calls, usec


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (CI: does it still run?)")
    args = parser.parse_args()
    if args.smoke:
        args.n = 20
    cluster = ClusterDeployment(masters=3, replicas=0)
    try:
        cluster.start()
        configure_django(
            "",
            POLICIES,
            cache={
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": cluster.startup_nodes,
                "OPTIONS": {
                    "CLIENT_CLASS": "django_ratelimit_guard.redis.ClusterClient",
                    "SOCKET_CONNECT_TIMEOUT": 0.1,
                    "SOCKET_TIMEOUT": 0.1,
                },
            },
        )
        from django.test import RequestFactory
        from django_redis import get_redis_connection

        from django_ratelimit_guard import check, get_usage
        from django_ratelimit_guard.conf.settings import guard_settings
        from django_ratelimit_guard.core.algorithms import Hit
        from django_ratelimit_guard.engine.decide import redis_store
        from django_ratelimit_guard.engine.plan import storage_key
        from django_ratelimit_guard.stores.redis import script_args
        from django_ratelimit_guard.stores.scripts import DECIDE

        rf = RequestFactory()
        client = get_redis_connection("ratelimit")
        request = rf.get("/", REMOTE_ADDR="198.51.100.1", HTTP_X_CLIENT="tenant-42")
        shapes = [
            ("3 policies, one client key (shared hash tag)", ("sw", "fw", "tb")),
            ("2 policies on two key values (ip + header)", ("sw", "by_header")),
            ("1 policy", ("sw",)),
        ]
        rows = []
        for label, names in shapes:
            get_usage(request, *names)  # load the script where these keys live
            cluster.reset_stats()
            for _ in range(args.n):
                check(request, *names)
            calls, _ = evalsha_stats(cluster)
            nodes = len(
                {
                    client.get_node_from_key(
                        storage_key(
                            guard_settings(),
                            guard_settings().policies[n],
                            "tenant-42" if n == "by_header" else "198.51.100.1",
                        )
                    ).name
                    for n in names
                }
            )
            rows.append((label, f"{calls / args.n:.2f}", str(nodes)))
        print(
            f"python {platform.python_version()}, redis-server "
            f"{cluster.nodes[0].client().info()['redis_version']}, 3 masters, n={args.n}"
        )
        print_table(
            "EVALSHA per request (INFO commandstats over all masters)",
            rows,
            ("request", "EVALSHA / request", "nodes touched"),
        )

        # Latency: check() vs a raw RedisCluster EVALSHA of a one-key INCR script (floor).
        floor_sha = client.script_load(FLOOR_LUA)
        floor, one, three = [], [], []
        for _ in range(5):
            floor += per_op_us(lambda: client.evalsha(floor_sha, 1, "{floor}", 60000), args.n, 1)
            one += per_op_us(lambda: check(request, "sw"), args.n, 1)
            three += per_op_us(lambda: check(request, "sw", "fw", "tb"), args.n, 1)
        f = median(floor)
        print_table(
            "Per decision on the cluster (median µs, one thread)",
            [
                ("raw RedisCluster EVALSHA, one-key INCR (floor)", f"{f:.1f}", "1.00"),
                ("check(), one policy", f"{median(one):.1f}", f"{median(one) / f:.2f}"),
                (
                    "check(), three policies, one tag",
                    f"{median(three):.1f}",
                    f"{median(three) / f:.2f}",
                ),
            ],
            ("path", "µs", "× floor"),
        )

        # Server cost per decision → decisions/s one shard (one Redis core) can serve.
        cap_rows = []
        for label, names in (("1 policy", ("sw",)), ("3 policies, one tag", ("sw", "fw", "tb"))):
            cluster.reset_stats()
            for _ in range(args.n):
                check(request, *names)
            calls, usec = evalsha_stats(cluster)
            per_call = usec / calls
            cap_rows.append((label, f"{per_call:.1f}", f"{1e6 / per_call:,.0f}"))
        print_table(
            "Server CPU per request (usec_per_call) and the ceiling of one shard",
            cap_rows,
            ("request", "µs server CPU", "requests/s per shard (CPU bound)"),
        )

        # Concurrency across shards: worker threads (the store) vs one ClusterPipeline.
        store = redis_store()
        ips = {}
        for i in range(1, 300):
            ip = f"203.0.{i // 250}.{i % 250}"
            ips.setdefault(
                client.get_node_from_key(
                    storage_key(guard_settings(), guard_settings().policies["sw"], ip)
                ).name,
                ip,
            )
            if len(ips) == 3:
                break
        policy = guard_settings().policies["sw"]
        hits = [
            Hit(
                storage_key(guard_settings(), policy, ip),
                policy.algorithm,
                10**9,
                3_600_000,
                1,
                True,
            )
            for ip in ips.values()
        ]
        store.hit_many(hits)

        def sequential() -> None:
            for hit in hits:
                client.evalsha(DECIDE.sha, 1, *script_args([hit], True, None))

        # redis-py's ClusterPipeline refuses EVALSHA ("blocked when running redis in cluster
        # mode"), so the alternative to threads is one call after another.
        t_threads, t_seq = [], []
        for _ in range(5):
            t_threads += per_op_us(lambda: store.hit_many(hits), args.n // 2, 1)
            t_seq += per_op_us(sequential, args.n // 2, 1)
        print_table(
            "One request with hits on all 3 shards (median µs)",
            [
                (
                    "ClusterStore: first shard inline, others on worker threads",
                    f"{median(t_threads):.1f}",
                ),
                ("three RedisCluster EVALSHAs one after another", f"{median(t_seq):.1f}"),
            ],
            ("strategy", "µs"),
        )

        # Memory of one client's key per algorithm.
        mem_rows = []
        check(request, "mem_sw", "mem_fw", "mem_tb")
        for name in ("mem_sw", "mem_fw", "mem_tb"):
            key = storage_key(guard_settings(), guard_settings().policies[name], "198.51.100.1")
            mem_rows.append((name[4:], str(client.memory_usage(key, samples=0))))
        print_table("MEMORY USAGE of one client key (bytes)", mem_rows, ("algorithm", "bytes"))
    finally:
        cluster.close()


if __name__ == "__main__":
    main()
