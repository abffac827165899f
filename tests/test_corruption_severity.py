"""Corruption severity measurably hurts a trained model, monotonically on average over corruption types."""

from lsdl_ens.data import CORRUPTIONS, corrupt, profile_data
from lsdl_ens.data.splits import balanced_subset
from lsdl_ens.recipes import standard_recipe, train
from lsdl_ens.profiles import get_profile
from lsdl_ens.train import evaluate


def test_accuracy_falls_with_severity_on_average():
    profile = get_profile("smoke")
    model, _ = train(standard_recipe(profile, seed=0, epochs=8), progress=False)  # cached after the first run
    _, _, test = profile_data(profile)
    images = balanced_subset(test, 500, seed=0)
    clean = evaluate(model, images)["accuracy"]
    mean_by_severity = []
    for severity in range(1, 6):
        accs = [evaluate(model, images.with_images(corrupt(images.images, name, severity, seed=0)))["accuracy"]
                for name in CORRUPTIONS]
        mean_by_severity.append(sum(accs) / len(accs))
    print(f"clean {clean:.3f}; mean accuracy by severity " + " ".join(f"{a:.3f}" for a in mean_by_severity))
    assert clean > 0.25, f"the test model did not learn (accuracy {clean:.3f})"
    assert mean_by_severity[-1] < clean - 0.05, "severity 5 should hurt accuracy measurably"
    for lower, higher in zip(mean_by_severity, mean_by_severity[1:]):
        assert higher <= lower + 0.005, f"mean accuracy rose with severity: {mean_by_severity}"
