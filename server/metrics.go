package server

import (
	"context"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gallerist/gallerist/storage"
)

// metrics are the Prometheus series of one server. Each server has its own registry,
// so tests can run several servers in one process.
type metrics struct {
	registry    *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	uploadBytes prometheus.Counter
	thumbnail   prometheus.Histogram
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gallerist_http_requests_total", Help: "HTTP requests by method, route and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gallerist_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"method", "route"}),
		uploadBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gallerist_upload_bytes_total", Help: "Bytes of files accepted by uploads.",
		}),
		thumbnail: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gallerist_thumbnail_duration_seconds", Help: "Time to make a photo's display copy and thumbnail.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2, 4, 8, 16, 32},
		}),
	}
	queueDepth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gallerist_queue_depth", Help: "Jobs waiting to run (queued, including retries not yet due).",
	}, func() float64 { return jobCount(s.db, storage.JobQueued) })
	deadJobs := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gallerist_queue_dead_jobs", Help: "Jobs that failed for good and are kept for inspection.",
	}, func() float64 { return jobCount(s.db, storage.JobDead) })
	mediaBudget := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gallerist_media_budget_in_use_bytes", Help: "Decoded-image memory admitted by the media limiter.",
	}, func() float64 { return float64(s.limiter.InUse()) })
	m.registry.MustRegister(m.requests, m.duration, m.uploadBytes, m.thumbnail, queueDepth, deadJobs, mediaBudget,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func jobCount(db *storage.DB, status string) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := db.JobCounts(ctx)
	if err != nil {
		return -1
	}
	return float64(counts[status])
}

func (m *metrics) observeRequest(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(method, route).Observe(d.Seconds())
}

func (m *metrics) observeThumbnail(d time.Duration) { m.thumbnail.Observe(d.Seconds()) }

func (s *Server) serveMetrics(c echo.Context) error {
	promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}).ServeHTTP(c.Response(), c.Request())
	return nil
}
