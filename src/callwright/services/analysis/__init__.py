"""Post-call analysis: pure engines from a finished call's record to seed 003's ``analysis`` block.

``OfflineAnalyzer`` (rules; the embedded default and the fallback) and ``LlmAnalyzer`` (any
OpenAI-compatible server, JSON schema). ``choose_analyzer`` picks one from the server settings.
"""

from __future__ import annotations

from callwright.services.analysis.base import (
    RATINGS,
    SENTIMENTS,
    WEBHOOK_FIELDS,
    Analysis,
    AnalysisInput,
    Analyzer,
    Rating,
    Sentiment,
    in_voicemail,
)
from callwright.services.analysis.coerce import coerce_value, custom_data
from callwright.services.analysis.llm import LlmAnalysisError, LlmAnalyzer, analysis_schema
from callwright.services.analysis.offline import OfflineAnalyzer

DEFAULT_MODEL = "gpt-4o-mini"


def choose_analyzer(base_url: str, api_key: str, model: str) -> Analyzer:
    """The LLM engine when a server is configured (falling back to rules), else the rules alone."""
    if base_url.strip():
        return LlmAnalyzer(base_url.strip(), api_key, model.strip() or DEFAULT_MODEL)
    return OfflineAnalyzer()


__all__ = [
    "RATINGS",
    "SENTIMENTS",
    "WEBHOOK_FIELDS",
    "Analysis",
    "AnalysisInput",
    "Analyzer",
    "LlmAnalysisError",
    "LlmAnalyzer",
    "OfflineAnalyzer",
    "Rating",
    "Sentiment",
    "analysis_schema",
    "choose_analyzer",
    "coerce_value",
    "custom_data",
    "in_voicemail",
]
