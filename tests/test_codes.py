"""firmware/codes.py and the generated docs that come from the tables."""
import os
import re

import host_tools
from host_tools import docgen

host_tools.use_firmware()
import codes as C  # noqa: E402


def test_table_shape():
    assert len(C.TABLE) == C.N_CODES
    seen = set()
    for cid, row in enumerate(C.TABLE):
        text, sev, wd, pre, meaning, source = row
        assert re.fullmatch(r"[WAE]-[AB]\d\d", text)
        assert text not in seen
        seen.add(text)
        assert C.code_id(text) == cid
        assert sev == {"W": C.SEVERITY_WARNING, "A": C.SEVERITY_ALARM, "E": C.SEVERITY_ERROR}[text[0]]
        assert meaning and source
        if sev == C.SEVERITY_WARNING:
            assert wd == 0, "a warning withdraws nothing: " + text


def test_behaviour_table_effects():
    # behaviour §7: what each code withdraws
    assert C.withdraws(C.A_B01) == C.WITHDRAW_ATD
    assert C.withdraws(C.A_B07) == C.WITHDRAW_ATD
    assert C.withdraws(C.A_B09) == C.WITHDRAW_ATC
    assert C.withdraws(C.A_B05) == C.WITHDRAW_ATC | C.WITHDRAW_ATD
    assert C.drives_pre_alarm(C.W_B01) and C.drives_pre_alarm(C.W_B07)


def test_generated_docs_are_current():
    for name, fn in docgen.OUTPUTS.items():
        path = os.path.join(host_tools.ROOT, "docs", name)
        assert open(path).read() == fn(), "docs/%s is stale: run python -m host_tools.docgen" % name
