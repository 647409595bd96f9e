"""The one message for a local model that cannot be loaded, shared by the in-process scorers."""

from __future__ import annotations

from rerank_plugins._exceptions import ConfigurationError

__all__ = ["unloadable"]


def unloadable(who: str, model: str, exc: OSError, offline: str) -> ConfigurationError:
    """A :class:`ConfigurationError` for ``model`` that is neither a local folder nor reachable on
    the Hugging Face Hub; ``offline`` says what to pass instead without a network.

    >>> str(unloadable("S", "m", FileNotFoundError(), "pass a folder"))[:60]
    "S could not load model 'm': not a local folder and not reach"
    """
    return ConfigurationError(
        f"{who} could not load model {model!r}: not a local folder and not reachable on the "
        f"Hugging Face Hub ({type(exc).__name__}). Offline, {offline}; online, check the model id "
        f"and unset HF_HUB_OFFLINE."
    )
