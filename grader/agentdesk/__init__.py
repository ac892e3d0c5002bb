"""The tool-agent exercise's world: a support desk (store and tools), its task set, BFCL documents.

Imported by the exercise notebook (``solutions/04_tool_agent.ipynb``), by its checks and by the
stub's scripted agent policy (``grader/stub/agent_policy.py``).
"""

from grader.agentdesk.bfcl import function_from_doc
from grader.agentdesk.desk import CustomerApprover, ScriptedApprover, SupportDesk, run_actions
from grader.agentdesk.world import make_world

__all__ = ["CustomerApprover", "ScriptedApprover", "SupportDesk", "function_from_doc", "make_world",
           "run_actions"]
