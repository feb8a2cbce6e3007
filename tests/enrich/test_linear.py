"""The linear models behind the learned enrichment decisions: trained offline, applied as data."""

from __future__ import annotations

from enrich.linear import LinearModel, train


def test_a_trained_model_separates_what_its_features_separate() -> None:
    examples = [{"caps": 1.0, "known": k} for k in (0.0, 1.0)] * 20 + [{"caps": 0.0}] * 40
    labels = ["keep"] * 40 + ["drop"] * 40
    model = train(examples, labels, l2=0.1)
    assert model.probabilities({"caps": 1.0})["keep"] > 0.9
    assert model.probabilities({"caps": 0.0})["drop"] > 0.9


def test_a_model_survives_its_round_trip_as_data_and_ignores_unknown_features() -> None:
    model = train([{"a": 1.0}, {"a": 0.0}, {"a": 1.0}, {"a": 0.0}], ["x", "y", "x", "y"])
    again = LinearModel.from_dict(model.as_dict())
    before = model.probabilities({"a": 1.0})
    after = again.probabilities({"a": 1.0, "never seen": 5.0})
    assert after.keys() == before.keys()
    assert abs(after["x"] - before["x"]) < 1e-4


def test_three_classes_get_probabilities_that_sum_to_one() -> None:
    examples = [{"f": float(i % 3)} for i in range(30)]
    labels = ["zero", "one", "two"] * 10
    probabilities = train(examples, labels).probabilities({"f": 2.0})
    assert abs(sum(probabilities.values()) - 1.0) < 1e-9
    assert max(probabilities, key=probabilities.__getitem__) == "two"
