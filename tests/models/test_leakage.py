"""The planted-canary check of the contract really catches a leak."""

from shopaug.data import TrainSet
from shopaug.evaluation import evaluate, leave_one_out
from shopaug.models import ItemKNN
from shopaug.testing import planted


def test_canary_check_catches_a_model_trained_on_all_data():
    ds, _ = planted()
    split = leave_one_out(ds)
    leaky = TrainSet(ds.sequences(), ds.n_items)  # wrongly includes valid and test targets
    model = ItemKNN().fit(leaky)
    assert evaluate(model, split, "test", beyond=False)["HR@5"] > 0.9
    honest = ItemKNN().fit(split.train)
    assert evaluate(honest, split, "test", beyond=False)["HR@5"] < 0.3
