"""A tiny corpus of five unrelated documents, for the tests that make training lists from it."""

from __future__ import annotations

import json
from pathlib import Path

TOPICS = {
    "cat": ("Domestic cats purr when content", "Cats purr at about 25 hertz. Purring is made by "
            "the muscles of the larynx in many cats. Kittens purr while they nurse from birth."),
    "paris": ("The Eiffel tower dominates the Paris skyline", "The tower was finished in 1889 "
              "for a world fair. It is three hundred metres tall and made of wrought iron. "
              "Millions of visitors climb it every year."),
    "bones": ("Vitamin D supplements reduce hip fractures", "Elderly women who took vitamin D "
              "had fewer hip fractures. Calcium alone did not lower the fracture rate in the "
              "trial. The effect was largest in care homes."),
    "rain": ("Clouds form when moist air cools", "Water vapour condenses on dust as air rises "
             "and cools. Rain falls when droplets grow too heavy to float. Most rain starts as "
             "ice high in the cloud."),
    "stocks": ("Stock prices fell sharply on Monday", "Markets dropped four percent at the open "
               "after the rate decision. Bank shares led the fall across Europe. Analysts "
               "expect more swings this week."),
}  # fmt: skip


def write_corpus(folder: Path) -> None:
    """Write :data:`TOPICS` as ``folder/corpus.jsonl`` (BEIR's corpus shape)."""
    folder.mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(
        "".join(
            json.dumps({"_id": d, "title": title, "text": text}) + "\n"
            for d, (title, text) in TOPICS.items()
        )
    )
