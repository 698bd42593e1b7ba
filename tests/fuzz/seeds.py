#!/usr/bin/env python3
# Write the starting seeds of tests/fuzz/corpus/ (run by hand, from the top
# of the tree, when a harness's input format changes; then minimize with
# tests/fuzz/fuzz-run's merge step).  Each function returns name -> bytes.
import gzip
import os
import struct
import sys

I = "org.accelbroker.Broker."


def varlink():
    # sel: the connection (low two bits) and flush (0x80); never 0, the separator
    def call(sel, method, params=None, extra=""):
        p = "" if params is None else ',"parameters":' + params
        return bytes([sel]) + ('{"method":"%s"%s%s}' % (method, p, extra)).encode() + b"\0"

    s = {}
    s["list"] = call(1, I + "ListDevices") + call(0x81, I + "ListQueues", "{}")
    s["acquire-release"] = (call(1, I + "AcquireQueue", '{"algorithm":"gzip"}') +
                            call(0x81, I + "ReleaseQueue", '{"queue_id":1}'))
    s["acquire-dev"] = call(2, I + "AcquireQueue",
                            '{"algorithm":"copy","device":"accel_sim-1","numa_node":-1}')
    s["transfer-claim"] = (call(1, I + "AcquireQueue", '{"algorithm":"crc32c"}') +
                           call(1, I + "TransferQueue", '{"queue_id":1}') +
                           call(3, I + "ClaimQueue", '{"token":"$TOKEN"}'))
    s["transfer-cross-user"] = (call(1, I + "AcquireQueue", '{"algorithm":"copy"}') +
                                call(1, I + "TransferQueue", '{"queue_id":1}') +
                                call(2, I + "ClaimQueue", '{"token":"$TOKEN"}') +
                                call(0x82, I + "ListQueues"))
    s["attach"] = (call(1, I + "AcquireQueue", '{"algorithm":"copy"}') +
                   call(3, I + "AttachQueue", '{"queue_id":1}'))
    s["monitor"] = (call(1, I + "Monitor", "{}", ',"more":true') +
                    call(3, I + "AcquireQueue", '{"algorithm":"gzip"}') +
                    call(4, I + "Revoke", '{"user":"1000"}') + call(1, I + "GetStatus"))
    s["revoke"] = (call(1, I + "AcquireQueue", '{"algorithm":"gunzip"}') +
                   call(4, I + "Revoke", '{"queue_id":1}') +
                   call(4, I + "Revoke", '{"device":"accel_sim-0"}'))
    s["quota"] = call(1, I + "GetQuota") + call(4, I + "GetQuota", '{"user":"nobody"}')
    s["reload"] = call(4, I + "Reload", "{}") + call(1, I + "Reload")
    s["info"] = (call(4, "org.varlink.service.GetInfo") +
                 call(4, "org.varlink.service.GetInterfaceDescription",
                      '{"interface":"org.accelbroker.Broker"}'))
    s["oneway"] = call(1, I + "AcquireQueue", '{"algorithm":"gzip"}', ',"oneway":true')
    s["bad"] = bytes([1]) + b'{"method":1}\0' + bytes([1]) + b'[1,2]\0' + bytes([1]) + b'{"method":"x"'
    return s


def config():
    s = {}
    s["default"] = open("etc/accel-broker.conf", "rb").read()
    s["broker"] = (b"[broker]\nsim_devices = 2\nsim_queues = 8\nengine_threads = 1\n"
                   b"max_queues_per_user = 4\nmax_connections_per_user = 8\nmax_connections = 64\n"
                   b"admin_group = root\non_shrink = revoke\ntransfer_timeout_sec = 5\n"
                   b"reattach_timeout_sec = 5\n")
    s["policy"] = (b"[defaults]\nmax_queues = 4\nmax_queues.gzip = 1\nlifetime = process\n"
                   b"fork = allow\ntransfer = any\ndevices = accel_sim-*\n"
                   b"[user:root]\nallow = yes\nmax_queues = 64\n"
                   b"[user:nobody]\nallow = no\n"
                   b"[group:root]\npool_max_queues = 8\nmax_queues.crc32c = 2\ntransfer = no\n")
    s["dropin"] = b"[defaults]\nmax_queues = 2\n\x00[user:1000]\nmax_queues = 3\nlifetime = connection\n"
    s["errors"] = b"[broker]\nbogus = 1\nsim_queues = x\n[nosuch]\na=b\nno equals sign\n; comment\n# c\n"
    s["long"] = b"# " + b"x" * 300 + b" max_queues.zzz = 0\n[defaults]\nmax_queues = " + b"9" * 40 + b"\n"
    # At the limits (POLICY_MAX_DEVICES patterns, POLICY_MAX_ALGORITHMS keys): one more is an error.
    s["limits"] = (b"[defaults]\ndevices = " + b" ".join(b"d%d" % i for i in range(16)) + b"\n" +
                   b"".join(b"max_queues.a%d = %d\n" % (i, i) for i in range(16)))
    return s


def sysfs():
    names = ["api", "algorithms", "flags", "available_instances", "region_mmio_size",
             "region_dus_size", "isolate", "device/numa_node", "features"]

    def dev(vals):
        return b"\x01".join(v if isinstance(v, bytes) else v.encode() for v in vals)

    s = {}
    s["sim"] = dev(["accel_sim_v1\n", "copy\ncrc32c\ngzip\ngunzip\n", "0\n", "16\n", "4096\n",
                    "2162688\n", "0\n", "0\n"])
    s["hisi"] = dev(["hisi_qm_v2\n", "zlib\ngzip\n", "0x1\n", "256\n", "0x4000\n", "0x800000\n",
                     "", "-1\n"])
    s["isolated"] = dev(["accel_sim_v1", "copy", "0", "1", "4096", "4096", "1", "1"])
    s["bad"] = dev(["", "copy", "0x100000000", "-5", "18446744073709551616", "12 ", "x", "99999999999"])
    s["sva"] = dev(["accel_sim_sva_v1\n", "copy\ngzip\n", "1\n", "8\n", "4096\n", "65536\n", "0\n",
                    "0\n", "bind_mm revoke\n"])
    s["sva-old"] = dev(["hisi_qm_v2\n", "zlib\n", "1\n", "8\n", "4096\n", "65536\n", "0\n", "0\n",
                        "bind_mm\n"])
    s["features-bad"] = dev(["hisi_qm_v2\n", "zlib\n", "0\n", "8\n", "4096\n", "65536\n", "0\n", "0\n",
                             "revoke  bind_mm\n"])
    return s


def sim_engine():
    DATA = 65536
    s = {}

    def desc(user, arg, op, flags, so, sl, do, dl):
        return struct.pack("<QQIIIIII8x", user, arg, op, flags, so, sl, do, dl)

    def inp(alg, flags, base, descs, data=b"", raw=None):
        # header: alg, flags, n, base, raw indices (sq_head, cq_tail, cq_head, sq_tail)
        hdr = struct.pack("<BBBI", alg, flags, len(descs), base)
        hdr += struct.pack("<IIII", *(raw or (0, 0, 0, 0)))
        return hdr + b"".join(descs) + data

    payload = b"hello, accelerator " * 20
    s["copy"] = inp(1, 0, 0, [desc(1, 0, 1, 0, DATA, len(payload), DATA + 4096, 4096)], payload)
    s["crc"] = inp(2, 0, 7, [desc(2, 0xffffffff, 2, 0, DATA, len(payload), 0, 0)] * 3, payload)
    s["gzip"] = inp(3, 0, 250, [desc(3, 6, 3, 2, DATA, len(payload), DATA + 8192, 8192),
                                desc(4, 1, 3, 3, DATA, 10, DATA + 16384, 100)], payload)
    gz = gzip.compress(payload)
    s["gunzip"] = inp(4, 0, 0, [desc(5, 0, 4, 0, DATA, len(gz), DATA + 8192, 8192),
                                desc(6, 0, 4, 1, DATA, 4, DATA + 20000, 10)], gz)
    s["bounds"] = inp(1, 0, 0xfffffff0, [desc(7, 0, 1, 0, 0, 16, DATA, 16),
                                         desc(8, 0, 1, 0, DATA, 0xffffffff, DATA, 16),
                                         desc(9, 0, 2, 0, DATA, 16, 0, 0)])
    s["garbage"] = inp(1, 1, 0, [desc(10, 0, 1, 0, DATA, 1, DATA + 1, 1)], b"x",
                       raw=(5, 5, 100, 4))
    return s


def dbus():
    # op stream: see fuzz_dbus.c
    s = {}

    def entry(key, sig, val):
        return bytes([len(key)]) + key.encode() + bytes([sig]) + val

    s["acquire"] = (bytes([1, 0]) + b"\x04gzip" + entry("device", 0, b"\x0baccel_sim-0") +
                    entry("numa_node", 1, struct.pack("<i", 0)))
    s["revoke"] = bytes([0, 0]) + entry("queue_id", 2, struct.pack("<Q", 1)) + entry("user", 0, b"\x041000")
    s["wrongtype"] = bytes([1, 0]) + b"\x04copy" + entry("numa_node", 0, b"\x010")
    s["unknown"] = bytes([0, 0]) + entry("bogus", 3, struct.pack("<I", 7))
    s["many"] = bytes([0, 0]) + entry("device", 0, b"\x01a") * 20
    s["nested"] = (bytes([1, 0]) + b"\x04gzip" + entry("device", 5, b"\x01a\x01b") +
                   entry("opts", 12, b"\x02" + entry("x", 1, b"1234") + entry("y", 0, b"\x01z")))
    s["othersig"] = bytes([1, 3]) + b"\x04gzip"
    s["twodicts"] = bytes([0, 1, 1]) + entry("user", 0, b"\x01a") + entry("device", 0, b"\x01b")
    s["ss"] = bytes([1, 2]) + b"\x04gzip\x06device\x0baccel_sim-0"
    return s


def cgroup():
    # the layout byte (0 unified, 1 hybrid, 2 legacy), then /proc/<pid>/cgroup text
    hybrid = ("12:name=systemd:%s\n11:cpu,cpuacct:/\n10:memory:%s\n0::%s\n")
    s = {}
    s["service"] = b"\0" + b"0::/system.slice/backup.service\n"
    s["nested"] = b"\0" + b"0::/batch.slice/batch-low.slice/job@1.service/sub\n"
    s["user"] = b"\0" + b"0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-x-1.scope\n"
    s["machine"] = b"\0" + b"0::/machine.slice/machine-db\\x2d1.scope/payload/init.scope\n"
    s["nspawn"] = b"\0" + b"0::/machine.slice/systemd-nspawn@web.service/payload\n"
    p = "/system.slice/web.service"
    s["hybrid"] = b"\1" + (hybrid % (p, p, p)).encode()
    s["legacy"] = b"\2" + b"1:name=systemd:/system.slice/cron.service\n2:cpu:/\n"
    s["root"] = b"\0" + b"0::/\n"
    s["beside"] = b"\0" + b"0::/docker/4f2a9c\n"
    return s


def main():
    which = {"varlink": varlink, "config": config, "sysfs": sysfs, "sim_engine": sim_engine,
             "dbus": dbus, "cgroup": cgroup}
    for name in sys.argv[1:] or which:
        d = os.path.join("tests/fuzz/corpus", name)
        os.makedirs(d, exist_ok=True)
        for k, v in which[name]().items():
            with open(os.path.join(d, "seed-" + k), "wb") as f:
                f.write(v)


main()
