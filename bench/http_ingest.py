"""HTTP ingest and codec speed: what one `dampwatch ingest-http` takes, and what the codecs cost.

Starts the HTTP ingest on a free loopback port with real SQLite files (readings store and
app database) in a temporary folder, registers the devices, then posts N ChirpStack up
events without a decoded object (raw Milesight EM300-TH frames with a history record,
decoded by the built-in codec) from C client threads, each waiting for its answer as
ChirpStack does. Prints requests per second, answer latency (p50, p95, max), readings
stored against expected, answers by status and the process's peak RSS. Then times each
codec alone on its published example.

    python bench/http_ingest.py                 # 2 000 requests, 4 clients
    python bench/http_ingest.py -n 500 -c 1     # quicker
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import http.client
import json
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

DEVICES = 100
SECRET = "bench-secret-0123456789abcdef"


def frame(at: dt.datetime, index: int) -> bytes:
    """A Milesight EM300-TH frame (layout of Milesight-IoT/SensorDecoders' README): live values + one history record."""
    temperature = 150 + index % 100
    humidity = 80 + index % 100
    history_at = int(at.timestamp()) - 3600
    return (bytes([0x01, 0x75, 90, 0x03, 0x67]) + temperature.to_bytes(2, "little", signed=True)
            + bytes([0x04, 0x68, humidity, 0x20, 0xCE]) + history_at.to_bytes(4, "little")
            + temperature.to_bytes(2, "little", signed=True) + bytes([humidity, 0]))


def body(index: int, base: dt.datetime) -> bytes:
    dev_eui = f"24e124{index % DEVICES:010x}"
    at = base + dt.timedelta(seconds=index)
    return json.dumps({
        "deduplicationId": f"bench-{index}", "time": at.isoformat(),
        "deviceInfo": {"devEui": dev_eui, "applicationId": "bench", "deviceName": dev_eui},
        "fCnt": index, "fPort": 85, "data": base64.b64encode(frame(at, index)).decode(),
    }).encode()


def run_http(requests: int, clients: int) -> None:
    from core.db import Database
    from core.model import Device
    from core.readings import open_store
    from core.settings import Settings
    from ingest.http import HttpIngestServer, build_http_ingest

    with tempfile.TemporaryDirectory() as folder:
        device_map = Path(folder) / "devices.csv"  # the model's codec, so history records are read too
        device_map.write_text("key,device_id,codec\n" + "".join(
            f"24e124{i:010x},,milesight-em300-th\n" for i in range(DEVICES)))
        settings = Settings(
            var_dir=Path(folder), database_url=f"sqlite:///{folder}/app.db", readings_url=f"sqlite:///{folder}/r.db",
            metrics_port=0, ingest_http_integrations="bench=chirpstack", ingest_http_secrets=f"bench={SECRET}",
            ingest_device_map_file=device_map,
        )
        database = Database(settings.database_url)
        with database.session() as session:
            session.add_all(Device(device_id=f"lorawan-24e124{i:010x}") for i in range(DEVICES))
        store = open_store(settings.readings_url)
        base = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=requests + 60)
        bodies = [body(i, base) for i in range(requests)]
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        lock = threading.Lock()
        with HttpIngestServer(build_http_ingest(settings, store, database), port=0) as server:
            host, port = server.server.server_address[:2]

            def client(start: int) -> None:
                connection = http.client.HTTPConnection(host, port, timeout=60)
                for index in range(start, requests, clients):
                    began = time.perf_counter()
                    connection.request("POST", "/ingest/bench?event=up", body=bodies[index],
                                       headers={"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"})
                    response = connection.getresponse()
                    response.read()
                    with lock:
                        latencies.append(time.perf_counter() - began)
                        statuses[response.status] = statuses.get(response.status, 0) + 1
                connection.close()

            threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
        stored = sum(1 for _ in store.iter_readings())
        store.close()
        database.dispose()
    latencies.sort()
    print(f"HTTP ingest: {requests} ChirpStack up events (raw Milesight frames, live + history), {clients} clients")
    print(f"  requests/s        {requests / elapsed:10.0f}")
    print(f"  readings/s        {stored / elapsed:10.0f}")
    print(f"  latency p50 (ms)  {statistics.median(latencies) * 1000:10.1f}")
    print(f"  latency p95 (ms)  {latencies[int(len(latencies) * 0.95) - 1] * 1000:10.1f}")
    print(f"  latency max (ms)  {latencies[-1] * 1000:10.1f}")
    print(f"  stored / expected {stored} / {2 * requests}")
    print(f"  answers by status {dict(sorted(statuses.items()))}")
    print(f"  peak RSS (MB)     {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:10.0f}")


def run_codecs(repeat: int) -> None:
    from ingest.codecs import CODECS

    examples = {  # the published examples of tests/ingest/test_codecs.py
        "milesight-em300-th": (85, "01755C03673401046865"),
        "milesight-am319": (85, "0367EE0004687C05000106CB02077DA803087D25000973662 70A7D04000B7D20000C7D3000"),
        "elsys": (5, "0100E202290400270506060308070D62"),
        "dragino-lht65": (2, "CBF60B0D0376010ADD7FFF"),
        "dragino-lht52": (2, "08CD02207FFF0161CD4EDD"),
        "browan-tabs": (103, "08AB3522FFFFFFFF"),
        "netvox": (6, "010B012409EA1A90000000"),
    }
    print(f"codecs: frames decoded per second ({repeat} each)")
    for name, (fport, hex_bytes) in examples.items():
        data = bytes.fromhex(hex_bytes.replace(" ", ""))
        decode = CODECS[name].decode
        started = time.perf_counter()
        for _ in range(repeat):
            decode(fport, data)
        print(f"  {name:20s} {repeat / (time.perf_counter() - started):12.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--requests", type=int, default=2000)
    parser.add_argument("-c", "--clients", type=int, default=4)
    parser.add_argument("--codec-repeat", type=int, default=20000)
    args = parser.parse_args()
    run_http(args.requests, args.clients)
    run_codecs(args.codec_repeat)


if __name__ == "__main__":
    main()
