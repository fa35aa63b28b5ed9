// Package connector pushes the photos of an event to outside platforms (BuildPass,
// Procore, Brilliant Directories) and keeps them there exactly once.
//
// A target is a platform account plus a destination; a link pairs an event with a
// target; a sync is one run of a link, done by a queue job. Every remote write follows a
// write-ahead rule: the intent (item state and any key material) is saved before the
// call and the result after it, so a run cut short anywhere — a crash, a timeout, a
// dropped connection — resumes by reconciling with the platform instead of writing
// twice. The platforms' documented behaviour, and where this package departs from the
// research that describes it, is in docs/connectors.md.
package connector
