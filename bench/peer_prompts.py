"""The prompts every client of bench/batch-vs-peers.sh sends (the peers' drivers and the floor's): one
place, so their calls stay the same shape."""
personas = ["Builder", "Skeptic", "Founder", "Futurist"]
system = "You are the {} on a panel that drafts reviews of software tools for an editorial site. " + "Weigh the tool carefully. " * 60
user = "<listing>\nName: Tool {}\nDescription:\nTool number {} does one thing well for teams that need it.\n</listing>\n" + "Answer with only the JSON object. " * 60
