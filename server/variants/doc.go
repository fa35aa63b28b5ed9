// Package variants makes the display copy and the thumbnail of each photo.
//
// The work runs in two ways that share one code path: as the durable "photo.variants"
// job enqueued with every new photo (so a restart loses nothing), and on demand when a
// thumbnail is asked for before the job ran. singleflight makes concurrent requests for
// the same photo wait for one piece of work, and media.Limiter admits work by its
// decoded-pixel cost so memory stays bounded whatever the number of requests.
//
// It must not know about HTTP.
package variants
