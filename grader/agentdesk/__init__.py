"""The tool-agent exercise's world: a support desk (store and tools), its task set, BFCL documents.

Imported by the exercise notebook (``solutions/04_tool_agent.ipynb``) and its checks; the stub's
agent policy (``grader/stub/agent_policy.py``) plays the model on the same tools.
"""

from grader.agentdesk.bfcl import function_from_doc
from grader.agentdesk.desk import CustomerApprover, ScriptedApprover, SupportDesk
from grader.agentdesk.world import make_world

__all__ = ["CustomerApprover", "ScriptedApprover", "SupportDesk", "function_from_doc", "make_world"]
