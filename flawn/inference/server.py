"""Hosting the web page: offline, bound to localhost by default, no file access.

Gradio's own ``launch`` would also work, but it cannot refuse routes the page
does not need, so the page is mounted into a FastAPI app of ours and run with
uvicorn. That app refuses every route that reads, writes or fetches files or
URLs (uploads, ``/file=`` downloads and URL proxying, media streams, run
history, monitoring): the page only sends text and gets text back. Gradio is
told to serve no extra paths (``allowed_paths`` empty) and to stay off the
network (no analytics, no server-side rendering, no MCP server, no share link).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import fastapi
import uvicorn
from starlette.responses import PlainTextResponse

from flawn.errors import FlawnError
from flawn.inference import web

# Gradio through the page module, which configures it before importing it (see there).
gr = web.gr

#: Route prefixes (under ``/gradio_api`` or at the root) refused with 403.
BLOCKED_ROUTES = (
    "/upload",
    "/file=",
    "/file/",
    "/proxy=",
    "/stream/",
    "/process_recording",
    "/run-history",
    "/component_server",
    "/custom_component",
    "/vibe-",
    "/undo-vibe-edit",
    "/monitoring",
)


def is_blocked(path: str) -> bool:
    """Whether a request path is one of the refused file or network routes."""
    relative = path.removeprefix("/gradio_api")
    return relative.startswith(BLOCKED_ROUTES)


class _RefuseFileRoutes:
    """ASGI middleware answering the blocked routes with 403 before Gradio sees them."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and is_blocked(scope.get("path", "")):
            response = PlainTextResponse(
                "flawn serve: this page has no file access", status_code=403
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def asgi_app(demo: gr.Blocks) -> fastapi.FastAPI:
    """The page mounted at ``/`` in an app that refuses file and URL routes."""
    app = fastapi.FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.add_middleware(_RefuseFileRoutes)
    return gr.mount_gradio_app(
        app,
        demo,
        path="/",
        allowed_paths=[],
        max_file_size=1,
        footer_links=[],
        run_history=False,
        ssr_mode=False,
        mcp_server=False,
        enable_monitoring=False,
        show_error=False,
        theme=gr.themes.Default(),  # a theme object: a theme *name* may be fetched from the Hub
    )


class WebServer:
    """Serves a page with uvicorn, in the foreground or on a background thread.

    Args:
        demo: The page (:func:`flawn.inference.web.build_app`).
        host: Interface to bind; ``127.0.0.1`` keeps the page on this machine.
        port: TCP port; ``0`` picks a free one (see :attr:`url` once started).
    """

    def __init__(self, demo: gr.Blocks, host: str = "127.0.0.1", port: int = 7860):
        self.host = host
        config = uvicorn.Config(
            asgi_app(demo),
            host=host,
            port=port,
            log_level="warning",
            lifespan="on",
            ws="none",
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The page's address (the bound port, once started)."""
        port = self._server.config.port
        if self._server.started and self._server.servers:
            port = self._server.servers[0].sockets[0].getsockname()[1]
        return f"http://{self.host}:{port}/"

    def serve_forever(self, on_ready: Callable[[str], None] | None = None) -> None:
        """Serves until interrupted (Ctrl-C), then shuts down cleanly.

        Args:
            on_ready: Called with the URL once the page accepts connections.

        Raises:
            FlawnError: If the server cannot start (e.g. the port is taken).
        """
        url = self.start()
        if on_ready is not None:
            on_ready(url)
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(timeout=0.5)
        finally:
            self.stop()

    def start(self, timeout: float = 30.0) -> str:
        """Serves on a background thread; returns the URL once it accepts connections.

        Raises:
            FlawnError: If the server did not start in time (e.g. the port is taken).
        """
        self._thread = threading.Thread(target=self._server.run, name="flawn-serve", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise FlawnError(
                    f"the web server did not start on {self.host}:{self._server.config.port}; "
                    "is the port taken? Pass another --port"
                )
            time.sleep(0.05)
        return self.url

    def stop(self) -> None:
        """Stops a server started with :meth:`start`."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
