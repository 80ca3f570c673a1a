"""``/v1/deployments/{name}`` of the sandbox: a fine-tuned model served under a name, like Azure's ARM
deployments (a local stand-in). PUT by name creates or returns the deployment, so a replayed deploy
never makes a second one; a new deployment is ``creating`` until it is first looked at, then ``ready``;
chat completions accept a ready deployment's name as the model."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .wire import bad_request, not_found, read_json

__all__ = ["routes", "served_model"]

MODES = ("on_demand", "dedicated")


def _deployments(request: Request) -> dict[str, dict[str, Any]]:
    app_state = request.app.state
    if not hasattr(app_state, "deployments"):
        app_state.deployments = {}
    return app_state.deployments  # type: ignore[no-any-return]


def served_model(request: Request, model: str) -> str:
    """The model behind ``model`` when it names a ready deployment; else ``model`` itself."""
    dep = _deployments(request).get(model)
    return dep["model"] if dep is not None and dep["status"] == "ready" else model


async def put_deployment(request: Request) -> JSONResponse:
    """Create the named deployment of a fine-tuned model, or return the one with that name."""
    name = request.path_params["name"]
    existing = _deployments(request).get(name)
    if existing is not None:
        return JSONResponse(existing)
    body = await read_json(request)
    model, mode = body.get("model"), body.get("mode", "on_demand")
    if not isinstance(model, str) or not model:
        raise bad_request("Missing required parameter: 'model'.", param="model")
    if mode not in MODES:
        raise bad_request(f"Invalid 'mode': use one of {', '.join(MODES)}.", param="mode")
    state = request.app.state.sandbox
    state.get_model(model)  # 404 for a model the sandbox does not have
    capacity = body.get("capacity", 1)
    dep = {"object": "deployment", "id": f"dep-{name}", "name": name, "model": model, "mode": mode,
           "capacity": capacity if isinstance(capacity, int) and capacity > 0 else 1, "status": "creating",
           "created_at": int(state.now())}
    _deployments(request)[name] = dep
    return JSONResponse(dep, status_code=201)


async def get_deployment(request: Request) -> JSONResponse:
    """One deployment (it comes up the first time it is looked at)."""
    name = request.path_params["name"]
    dep = _deployments(request).get(name)
    if dep is None:
        raise not_found("deployment", name)
    if dep["status"] == "creating":
        dep["status"] = "ready"
    return JSONResponse(dep)


async def delete_deployment(request: Request) -> JSONResponse:
    """Delete a deployment."""
    name = request.path_params["name"]
    if _deployments(request).pop(name, None) is None:
        raise not_found("deployment", name)
    return JSONResponse({"id": f"dep-{name}", "object": "deployment.deleted", "deleted": True})


routes = [
    Route("/v1/deployments/{name}", put_deployment, methods=["PUT"]),
    Route("/v1/deployments/{name}", get_deployment, methods=["GET"]),
    Route("/v1/deployments/{name}", delete_deployment, methods=["DELETE"]),
]
