"""The graphs as LangGraph Studio and `langgraph dev` load them (langgraph.json): with the offline interviewer
in the run context by default, since Studio cannot pass an object in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent.interviewer.offline import OfflineInterviewer
from graphs import pipeline
from graphs.state import Context


@dataclass
class StudioContext(Context):
    """The run context with the offline interviewer as its default."""

    interviewer: Any = field(default_factory=OfflineInterviewer)


graph = pipeline.build(context_schema=StudioContext)
interview_graph = pipeline.build_interview(context_schema=StudioContext)
