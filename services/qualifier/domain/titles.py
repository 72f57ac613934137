"""Read seniority and function from a job title: "VP Eng", "Head of Sales", "CTO", "Intern"."""

import re
from dataclasses import dataclass

# Most senior first: "Director, Head of Sales" is read as the head of a function.
_SENIORITY: tuple[tuple[str, str], ...] = (
    ("student", r"\b(student|intern|internship|trainee|apprentice|graduate student|phd candidate)\b"),
    ("executive", r"\b(c[eiotmfrps]o|chief|founder|co-?founder|owner|president|managing director|partner|md)\b"),
    ("vice_president", r"\b(s?e?vp|vice[- ]president|head of|head)\b"),
    ("director", r"\b(director|dir\.?)\b"),
    ("manager", r"\b(manager|mgr|lead|principal|supervisor)\b"),
)
_FUNCTIONS: tuple[tuple[str, str], ...] = (
    ("engineering", r"\b(eng|engineer(ing)?|developer|software|cto|devops|architect|technical|technology)\b"),
    ("it", r"\b(it|information|cio|systems|infrastructure|security|ciso)\b"),
    ("sales", r"\b(sales|cro|revenue|account executive|business development|bdr|sdr)\b"),
    ("marketing", r"\b(marketing|cmo|growth|brand|demand generation)\b"),
    ("finance", r"\b(finance|financial|cfo|accounting|controller|treasury)\b"),
    ("operations", r"\b(operations|ops|coo|supply chain|logistics)\b"),
    ("people", r"\b(hr|human resources|people|talent|recruit(ing|er)?)\b"),
    ("product", r"\b(product|cpo)\b"),
    ("general_management", r"\b(ceo|founder|owner|president|managing director|general manager)\b"),
)


@dataclass(frozen=True)
class TitleReading:
    """What a title says about its holder; None where it says nothing."""

    seniority: str | None
    function: str | None


def read_title(title: str | None) -> TitleReading:
    """Seniority (student, executive, vice_president, director, manager, individual) and function."""
    if not title or not title.strip():
        return TitleReading(None, None)
    text = title.lower().replace("&", " and ")
    seniority = next((name for name, pattern in _SENIORITY if re.search(pattern, text)), "individual")
    function = next((name for name, pattern in _FUNCTIONS if re.search(pattern, text)), None)
    return TitleReading(seniority, function)
