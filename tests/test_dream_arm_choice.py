"""`dream --proposer auto` (`DreamSearch.resolved_arm`): the best search the loaded checkpoint allows, and the
enumerator while the checkpoint cannot search with the target's library."""
from dream.dreamer import DreamSearch
from dream.search.arms import AUTO, needs_checkpoint
from dream.search.settings import SearchSettings


class _Watcher:
    """A checkpoint watcher holding a model of one kind (or nothing)."""

    def __init__(self, model=None):
        self.model = model

    @property
    def loaded(self):
        return self.model is not None

    @property
    def kind(self):
        return getattr(self.model, "kind", "edit")


class _Recognizer:
    """Stands in for a recognition checkpoint trained with the library `names`."""
    kind = "recognition"

    def __init__(self, names):
        self.names = sorted(names)
        self.asked = []

    def check_library(self, library):
        self.asked.append(sorted(d.name for d in library))
        if sorted(d.name for d in library) != self.names:
            raise ValueError("trained with another library")


class _Define:
    def __init__(self, name):
        self.name, self.params = name, ("a",)


def _search(watcher, arm=AUTO):
    return DreamSearch(watcher, SearchSettings(budget_s=1.0), 32, arm=arm)


def test_auto_resolves_by_the_checkpoint_it_holds():
    assert _search(None).resolved_arm() == "topdown"                  # model-free dream
    assert _search(_Watcher()).resolved_arm() == "topdown"            # train has written no checkpoint yet
    assert _search(_Watcher(object())).resolved_arm() == "model"      # an edit model: refining enumerated starts
    assert _search(_Watcher(object()), arm="grammar").resolved_arm() == "grammar"   # a named arm stays itself


def test_a_recognition_model_of_another_library_falls_back_to_the_enumerator():
    watcher = _Watcher(_Recognizer(["fn_0"]))
    assert _search(watcher).resolved_arm([_Define("fn_0")]) == "recognition"
    assert _search(watcher).resolved_arm([_Define("fn_0"), _Define("fn_1")]) == "topdown"
    assert watcher.model.asked == [["fn_0"], ["fn_0", "fn_1"]]      # asked about each target's library


def test_which_arms_need_a_network():
    assert needs_checkpoint("model") and needs_checkpoint("policy") and needs_checkpoint("recognition")
    assert not needs_checkpoint("topdown") and not needs_checkpoint("grammar")


def test_auto_constructs_dreams_mnist_digits_whatever_the_checkpoint():
    """`dream`'s MNIST targets (kind "mnist") go to the `construct` arm under `auto`, with or without a checkpoint
    and with a recognition model of another library; a named arm stays itself."""
    for watcher in (None, _Watcher(), _Watcher(object()), _Watcher(_Recognizer(["fn_0"]))):
        assert _search(watcher).resolved_arm((), "mnist") == "construct"
    assert _search(_Watcher(object()), arm="grammar").resolved_arm((), "mnist") == "grammar"


def test_a_dreamed_digit_is_constructed_and_its_program_inserted():
    import logo
    from dream.dreamer import DreamItem
    from dream.search.score import iou
    from dream.search.targets import TargetSampler
    target = TargetSampler({"mnist": 1}, None, 32, seed=0).next()           # a training digit, as dream draws it
    assert target.kind == "mnist"
    found = _search(None)(DreamItem(0, target, (), ("",)))
    assert found.summary["arm"] == "construct" and found.texts == [found.summary["program"]]
    assert iou(logo.render(found.texts[0], 28), target.image28) > 0.5      # a drawing of the digit, not a stub
