"""``--demo``: a few sample assemblies run through uploads, steps, results, completion and one
failure, written with the same ``StatusStore`` calls a real worker makes."""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Any

from ..ids import assembly_id
from ..store import StatusStore

log = logging.getLogger("transflow.local")
DEMO_USER = "demo-user"
DEMO_TEMPLATE = "tpl_demo_audio"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def demo_plan(template_id: str = DEMO_TEMPLATE) -> list[dict[str, Any]]:
    """The sample assemblies of ``template_id``: (id, uploads, steps, how it ends)."""
    plans = []
    for name, size, outcome in (
        ("interview.wav", 48_000_000, "completed"),
        ("podcast-episode-42.flac", 96_500_000, "completed"),
        ("corrupt-upload.mp3", 1_200_000, "failed"),
    ):
        md5 = _md5(name)
        plans.append(
            {
                "assembly_id": assembly_id(md5, template_id, DEMO_USER),
                "template_id": template_id,
                "uploads": [
                    {"id": f"up_{md5[:8]}", "name": name, "size": size, "mime": "audio/" + name.rsplit(".", 1)[1],
                     "field": "file", "md5hash": md5}
                ],
                "steps": ["transcode_mp3", "waveform"],
                "outcome": outcome,
            }
        )
    return plans


def run_demo(
    store: StatusStore,
    *,
    template_id: str = DEMO_TEMPLATE,
    step_seconds: float = 1.5,
    stop: threading.Event | None = None,
) -> list[str]:
    """Create the demo assemblies now and advance them in a background thread; returns their ids.
    ``template_id`` should be one the template has a webhook target for, so their webhooks go out."""
    stop = stop or threading.Event()
    plans = demo_plan(template_id)
    for plan in plans:
        store.create(plan["assembly_id"], user_id=DEMO_USER, template_id=template_id, uploads=plan["uploads"],
                     steps_total=len(plan["steps"]), message="Waiting for a worker")

    def advance() -> None:
        try:
            for plan in plans:
                _run_one(store, plan, step_seconds, stop)
        except Exception:
            log.exception("demo worker failed")

    threading.Thread(target=advance, name="demo-worker", daemon=True).start()
    return [p["assembly_id"] for p in plans]


def _run_one(store: StatusStore, plan: dict[str, Any], step_seconds: float, stop: threading.Event) -> None:
    aid = plan["assembly_id"]
    upload = plan["uploads"][0]
    store.progress(aid, state="ASSEMBLY_UPLOADING", message="Receiving upload", bytes_received=0)
    for fraction in (0.5, 1.0):
        if stop.wait(step_seconds / 2):
            return
        store.progress(aid, bytes_received=int(upload["size"] * fraction), progress_pct=round(25 * fraction, 1))
    for index, step in enumerate(plan["steps"]):
        store.start_step(aid, step)
        if stop.wait(step_seconds):
            return
        if plan["outcome"] == "failed" and index == 0:
            store.fail(aid, "TRANSCODE_FAILED", f"{step}: input is not a decodable audio stream")
            return
        ext = "mp3" if step == "transcode_mp3" else "png"
        name = f"{upload['name'].rsplit('.', 1)[0]}.{ext}"
        store.add_result(aid, step, {
            "id": f"res_{step}_{aid[:8]}", "name": name, "size": upload["size"] // (8 if ext == "mp3" else 400),
            "mime": "audio/mpeg" if ext == "mp3" else "image/png", "field": upload["field"],
            "original_id": upload["id"], "ssl_url": f"https://cdn.example.com/demo/{aid[:12]}/{name}",
        })
        store.finish_step(aid, step)
        store.progress(aid, progress_pct=25 + 75 * (index + 1) / len(plan["steps"]))
    store.complete(aid, message="Assembly completed")
