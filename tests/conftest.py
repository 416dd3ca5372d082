"Suite-wide guards: a test (or the library code it drives) must leave torch's global state as it found it."
import pytest

@pytest.fixture(autouse=True)
def _no_leaked_torch_state(request):
    import sys
    torch = sys.modules.get("torch")
    before = (torch.is_grad_enabled(), torch.is_inference_mode_enabled()) if torch else None
    yield
    torch = sys.modules.get("torch")
    if torch is None: return
    after = (torch.is_grad_enabled(), torch.is_inference_mode_enabled())
    expected = before or (True, False)
    if after != expected:
        torch.set_grad_enabled(expected[0])  # repair so one leak does not fail every later test
        pytest.fail(f"{request.node.nodeid} left torch grad/inference mode at {after}, found {expected}", pytrace=False)

def pytest_collection_finish(session):
    "Importing the test modules must not flip torch's global switches either (that once failed 9 unrelated tests)."
    import sys
    torch = sys.modules.get("torch")
    if torch is not None and not torch.is_grad_enabled():
        raise pytest.UsageError("a test module disabled autograd at import time; use a scoped fixture (`with "
                                "torch.no_grad(): yield`)")
