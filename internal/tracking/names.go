package tracking

import (
	"fmt"
	"math/rand/v2"
)

// Words for generated run names, in MLflow's "adjective-noun-number" style.
var (
	nameAdjectives = []string{"amazing", "bold", "brave", "bright", "calm", "capable", "clean",
		"clever", "crisp", "dapper", "eager", "fair", "fast", "gentle", "glamorous", "honest",
		"keen", "kind", "lively", "loud", "lucky", "merciful", "nimble", "polite", "quick",
		"quiet", "rare", "rogue", "shy", "silent", "skillful", "smiling", "sneaky", "stable",
		"steady", "sunny", "tasteful", "thoughtful", "unique", "upbeat", "valuable", "wise"}
	nameNouns = []string{"ant", "bass", "bat", "bear", "bird", "boar", "carp", "cat", "cod",
		"colt", "crab", "crane", "deer", "doe", "dog", "dove", "duck", "eel", "elk", "finch",
		"fly", "foal", "fox", "frog", "goat", "gull", "hare", "hawk", "hen", "horse", "jay",
		"lamb", "lark", "mole", "moth", "mouse", "newt", "owl", "ox", "panda", "pig", "ram",
		"roo", "seal", "shark", "sheep", "sloth", "snail", "snake", "squid", "stag", "swan",
		"toad", "trout", "whale", "wolf", "worm", "wren", "yak", "zebra"}
)

func randomRunName() string {
	return fmt.Sprintf("%s-%s-%d", nameAdjectives[rand.IntN(len(nameAdjectives))],
		nameNouns[rand.IntN(len(nameNouns))], rand.IntN(1000))
}
