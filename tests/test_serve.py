"""The ``flawn serve`` page in-process, without a browser: refusals, the queue under concurrent
requests, the refused file routes, and no connection leaving this machine."""

import concurrent.futures
import json
import socket
import time
import urllib.error
import urllib.request

import pytest
from tiny_runs import MIXTURES, write_random_run

pytest.importorskip("gradio", reason="flawn serve needs the web extra: pip install -e '.[web]'")

from flawn.cli import main
from flawn.inference.settings import GenerationSettings

_LOCAL = ("127.0.0.1", "::1", "localhost", "0.0.0.0")


class _Outbound:
    """Records every connection or name lookup that is not for this machine."""

    def __init__(self, monkeypatch):
        self.seen = []
        connect, getaddrinfo = socket.socket.connect, socket.getaddrinfo

        def checked_connect(sock, address):
            self._check(address[0] if isinstance(address, tuple) else address)
            return connect(sock, address)

        def checked_getaddrinfo(host, *args, **kwargs):
            self._check(host)
            return getaddrinfo(host, *args, **kwargs)

        monkeypatch.setattr(socket.socket, "connect", checked_connect)
        monkeypatch.setattr(socket, "getaddrinfo", checked_getaddrinfo)

    def _check(self, host):
        if host is not None and str(host) not in _LOCAL and not str(host).startswith("/"):
            self.seen.append(str(host))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Two random checkpoints on one page, served on a free port; yields (url, generators)."""
    from flawn.inference import server, web
    from flawn.inference.generator import Generator

    root = tmp_path_factory.mktemp("runs")
    generators = [
        Generator.load(write_random_run(root, m, seed=i).path) for i, m in enumerate(MIXTURES)
    ]
    demo = web.build_app(
        generators, max_input_chars=200, defaults=GenerationSettings(max_new_tokens=8)
    )
    host = server.WebServer(demo, "127.0.0.1", 0)
    url = host.start()
    yield url, generators
    host.stop()


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace")


def test_refusals_are_messages_not_errors(served):
    from flawn.inference.web import ask_all

    _, generators = served
    settings = GenerationSettings(max_new_tokens=8)
    status, answers = ask_all(generators, "x" * 150, "y" * 51, settings, max_input_chars=200)
    assert status.startswith("Refused: the question and context have 201 characters")
    assert "at most 200 (flawn serve --max-input-chars)" in status and answers == ["", ""]
    status, answers = ask_all(generators, "   ", "", settings, max_input_chars=200)
    assert status == "Type a question first." and answers == ["", ""]
    status, answers = ask_all(generators, "Which article?", "", settings, 200)
    assert status == "" and len(answers) == 2


def test_the_page_serves_locally_and_refuses_every_file_route(served, monkeypatch):
    url, _ = served
    outbound = _Outbound(monkeypatch)
    status, html = _get(url)
    assert status == 200 and "<html" in html.lower()
    status, config = _get(url + "config")
    assert status == 200
    components = {c["type"] for c in json.loads(config)["components"]}
    assert not components & {"file", "uploadbutton", "downloadbutton", "image", "audio", "video"}
    for route in (
        "gradio_api/file=/etc/passwd",
        "gradio_api/file=https://example.com/x.txt",
        "gradio_api/proxy=https://example.com/",
        "file=/etc/passwd",
        "gradio_api/monitoring",
    ):
        status, _ = _get(url + route)
        assert status == 403, route
    request = urllib.request.Request(url + "gradio_api/upload", data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 403
    assert outbound.seen == []


def test_concurrent_questions_wait_in_the_queue_and_all_get_answers(served, monkeypatch):
    import huggingface_hub.constants
    from gradio_client import Client

    url, _ = served
    # As in `flawn serve`, where the page module sets HF_HUB_OFFLINE before the Hub library
    # loads; here the test's imports loaded it first (and the test's client uses it too).
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    outbound = _Outbound(monkeypatch)
    from flawn.inference.generator import Generator

    active, most = [0], [0]
    ask = Generator.ask

    def counted_ask(self, *args, **kwargs):
        active[0] += 1
        most[0] = max(most[0], active[0])
        try:
            time.sleep(0.05)  # long enough for overlapping requests to overlap here
            return ask(self, *args, **kwargs)
        finally:
            active[0] -= 1

    monkeypatch.setattr(Generator, "ask", counted_ask)
    client = Client(url, verbose=False, download_files=False)
    settings = ["greedy", 8, 1.0, 1.0, 0, 0, 2, 1.0]
    jobs = [client.submit(f"Question {i}?", "", *settings, api_name="/ask") for i in range(4)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda job: job.result(timeout=240), jobs))
    for status, first, second in results:
        assert status == "" and isinstance(first, str) and isinstance(second, str)
    assert most[0] == 1  # one generation at a time: the others waited in the queue
    status, first, second = client.predict("x" * 201, "", *settings, api_name="/ask")
    assert status.startswith("Refused") and first == second == ""
    assert outbound.seen == []


def test_serve_refuses_more_steps_than_checkpoints(capsys):
    code = main(
        [
            *("serve", "--checkpoint", "a", "--checkpoint", "b"),
            *("--step", "1", "--step", "2"),
            "--step",
            "3",
        ]
    )
    assert code == 2 and "once per --checkpoint (2)" in capsys.readouterr().err
