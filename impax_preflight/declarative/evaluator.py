"""Running a declarative check: measure (SQL, command, fact or setting), compare, report."""

from __future__ import annotations

import datetime as _dt
import decimal
from typing import Any

from pydantic import BaseModel

from ..context import CheckContext
from ..model import Finding
from ..patterns import compile_pattern
from .schema import CheckSpec, MessageValues


def _plain(v: Any) -> Any:
    """A JSON-friendly form of a driver value for `Finding.values`."""
    if isinstance(v, decimal.Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    if isinstance(v, (_dt.date, _dt.datetime, _dt.time)):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


class Evaluator:
    """The check function of a declarative check: measure, compare, report."""

    def __init__(self, spec: CheckSpec):
        self.spec = spec
        self.condition = spec.pass_if
        self.__doc__ = spec.description or spec.title

    def __call__(self, ctx: CheckContext) -> Finding:
        spec = self.spec
        if spec.sql is not None:
            measured = self._sql(ctx)
        elif spec.command is not None:
            measured = self._command(ctx)
        elif spec.fact is not None:
            measured = self._fact(ctx)
        else:
            measured = self._setting(ctx)
        if isinstance(measured, Finding):
            return measured
        return self._judge(ctx, measured)

    # -- measuring: each returns {value, rows, rc?, text, items} or an error/skip Finding ----
    def _sql(self, ctx: CheckContext) -> dict[str, Any] | Finding:
        spec = self.spec
        session = ctx.sql
        if isinstance(spec.sql, str):
            sql = spec.sql
        else:
            sql = spec.sql.get(session.dialect) or spec.sql.get("default")
            if sql is None:
                return ctx.skip(f"no SQL for dialect {session.dialect} (the check has {', '.join(spec.sql)})")
        result = ctx.query(sql, max_rows=spec.max_rows)
        first = result.rows[0][0] if result.rows and result.rows[0] else None
        text = "\n".join("\t".join("" if v is None else str(v) for v in row) for row in result.rows)
        items = [("" if r[0] is None else str(r[0]).strip()) for r in result.rows if r]
        return {"value": _plain(first), "rows": len(result.rows), "text": text, "items": items, "truncated": result.truncated}

    def _command(self, ctx: CheckContext) -> dict[str, Any] | Finding:
        spec = self.spec
        host_os = ctx.host.os if ctx.host else "default"
        per_os = spec.command if isinstance(spec.command, dict) else {"default": spec.command}
        cmd = per_os.get(host_os) or per_os.get("default")
        if cmd is None:
            return ctx.skip(f"no command for OS {host_os}")
        res = ctx.run(cmd)
        uses_rc = self.condition is not None and self.condition.operand == "rc"
        if not uses_rc and res.rc not in spec.ok_rc:
            err = (res.stderr or res.stdout).strip().splitlines()
            return ctx.error(
                f"`{cmd}` exited with rc {res.rc} (expected {', '.join(map(str, spec.ok_rc))})"
                + (f": {err[-1][:200]}" if err else "")
            )
        out = res.stdout
        lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
        if spec.value_regex:
            m = compile_pattern(spec.value_regex, multiline=True).search(out)
            value = (m.group(1) if m.groups() else m.group(0)) if m else None
            if m is None and self.condition is not None and self.condition.operand == "value":
                return ctx.error(f"value_regex {spec.value_regex!r} found nothing in the output of `{cmd}`")
        else:
            value = out.strip() or None
        return {"value": value, "rows": len(lines), "rc": res.rc, "text": out, "items": lines, "truncated": res.truncated}

    def _fact(self, ctx: CheckContext) -> dict[str, Any] | Finding:
        name = self.spec.fact or ""
        if name not in ctx.facts or ctx.facts[name] in (None, ""):
            return ctx.error(
                f"fact {name!r} is not known for host {ctx.target_name}: declare it under [hosts.facts] in the inventory"
            )
        value = ctx.facts[name]
        ctx.note(f"fact {name} = {value!r}", source=f"fact:{name}")
        return _measure_object(value)

    def _setting(self, ctx: CheckContext) -> dict[str, Any] | Finding:
        path = self.spec.setting or ""
        root: Any = ctx.site if path.startswith("site.") else ctx.host
        obj = root
        for part in path.split(".")[1:]:
            # fields of the inventory models and keys of their tables, nothing else (checked at load,
            # and again here: a spec built in Python skips the file's validation)
            if isinstance(obj, dict):
                obj = obj.get(part)
            elif isinstance(obj, BaseModel) and not part.startswith("_") and part in type(obj).model_fields:
                obj = getattr(obj, part)
            else:
                obj = None
            if obj is None:
                break
        ctx.note(f"{path} = {obj!r}", source=f"inventory:{path}")
        return _measure_object(obj)

    # -- judging --------------------------------------------------------------------------------
    def _judge(self, ctx: CheckContext, m: dict[str, Any]) -> Finding:
        spec = self.spec
        values: dict[str, Any] = {"value": m["value"], "rows": m["rows"]}
        if "rc" in m:
            values["rc"] = m["rc"]
        reasons: list[str] = []
        try:
            if self.condition is not None:
                measured = m.get(self.condition.operand)
                if not self.condition.holds(measured):
                    reasons.append(f"{self.condition.text} is not met ({self.condition.label} = {_show(measured)})")
        except ValueError as exc:
            return ctx.error(f"cannot evaluate the pass condition: {exc}", subject=spec.subject, values=values)
        if spec.must_match is not None and not compile_pattern(spec.must_match, multiline=True).search(m["text"]):
            reasons.append(f"the output does not match {spec.must_match!r}")
        if spec.must_not_match is not None:
            hit = compile_pattern(spec.must_not_match, multiline=True).search(m["text"])
            if hit:
                # show the whole line that matched: that is what the engineer has to look at
                start = m["text"].rfind("\n", 0, hit.start()) + 1
                end = m["text"].find("\n", hit.end())
                line = m["text"][start : end if end >= 0 else None].strip()
                reasons.append(f"the output matches {spec.must_not_match!r}: {line[:200]!r}")
        unexpected: list[str] = []
        if spec.allowed is not None:
            allowed = set(spec.allowed)
            unexpected = sorted({i for i in m["items"] if i not in allowed})
            values["unexpected"] = unexpected
            if unexpected:
                shown = ", ".join(repr(u) for u in unexpected[:10]) + (" ..." if len(unexpected) > 10 else "")
                reasons.append(f"values outside the allowed set: {shown}")
        fill = MessageValues(
            value=_show(m["value"]),
            rows=m["rows"],
            rc=m.get("rc", ""),
            unexpected=", ".join(unexpected),
            subject=spec.subject or "",
            target=ctx.target_name,
        )
        if not reasons and m.get("truncated"):  # a pass judged on part of the answer is not a pass
            cut = (f"only the first {spec.max_rows} rows were read" if spec.sql is not None
                   else "the output was cut at the transport's 16 MB cap")
            return ctx.error(f"not verified: {cut}, and the rest could hold what fails the condition; raise max_rows or "
                             "narrow the query or command", subject=spec.subject, values=values)
        if not reasons:
            msg = spec.message_pass.format_map(fill) if spec.message_pass else f"passed: {self._describe_condition()} ({self._summary(m)})"
            return ctx.passed(msg, subject=spec.subject, values=values)
        msg = spec.message_fail.format_map(fill) + " — " + "; ".join(reasons) if spec.message_fail else "; ".join(reasons)
        if m.get("truncated"):
            msg += f" (only the first {spec.max_rows} rows were read)"
        on_fail = spec.on_fail or ("fail" if spec.severity == "blocker" else "warn")
        make = ctx.fail if on_fail == "fail" else ctx.warn
        return make(msg, subject=spec.subject, values=values)

    def _describe_condition(self) -> str:
        spec = self.spec
        parts = []
        if self.condition is not None:
            parts.append(self.condition.text)
        if spec.must_match is not None:
            parts.append(f"output matches {spec.must_match!r}")
        if spec.must_not_match is not None:
            parts.append(f"output does not match {spec.must_not_match!r}")
        if spec.allowed is not None:
            parts.append("only allowed values")
        return " and ".join(parts)

    @staticmethod
    def _summary(m: dict[str, Any]) -> str:
        out = f"value = {_show(m['value'])}, rows = {m['rows']}"
        if "rc" in m:
            out += f", rc = {m['rc']}"
        return out


def _measure_object(value: Any) -> dict[str, Any]:
    if isinstance(value, (list, tuple, set)):
        items = [str(v).strip() for v in value]
        return {"value": _plain(items[0]) if items else None, "rows": len(items), "text": "\n".join(items), "items": items}
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, dict):
        items = [f"{k}={v}" for k, v in value.items()]
        return {"value": None, "rows": len(items), "text": "\n".join(items), "items": list(map(str, value))}
    plain = _plain(value)
    text = "" if value is None else str(plain)
    return {"value": plain, "rows": 0 if value is None else 1, "text": text, "items": [text] if text else []}


def _show(v: Any) -> str:
    if v is None:
        return "none"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    text = str(v)
    return text if len(text) <= 80 else text[:77] + "..."
