package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gallerist/gallerist/server"
	"github.com/gallerist/gallerist/storage"
	"github.com/gallerist/gallerist/storage/blob"
)

const usage = `Usage: gallerist [command] [flags]

Commands:
  serve            run the server (default)
  migrate          apply database migrations and exit
  openapi          print the OpenAPI document
  token create     --name NAME --scopes photos.read,photos.write [--expires 720h]
  token list       list API tokens
  token revoke ID  revoke an API token
  admin create     --email E --password-stdin
  version          print the version

Every command reads GALLERIST_* variables (docs/configuration.md); flags override them.
Run "gallerist serve -h" for the server's flags.
`

// run is the whole program, with its inputs passed in so tests can call it.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		err := runServe(ctx, args, getenv, stderr)
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	case "migrate":
		return runMigrate(ctx, args, getenv, stdout, stderr)
	case "openapi":
		return runOpenAPI(args, stdout, stderr)
	case "token":
		return runToken(ctx, args, getenv, stdout, stderr)
	case "admin":
		return runAdmin(ctx, args, getenv, stdin, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "gallerist", server.Version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// loadConfig builds the configuration: defaults, then the environment, then flags.
func loadConfig(name string, args []string, getenv func(string) string, stderr io.Writer, extra func(*flag.FlagSet)) (server.Config, *flag.FlagSet, error) {
	cfg := server.DefaultConfig()
	if err := cfg.LoadEnv(getenv); err != nil {
		return cfg, nil, err
	}
	fs := flag.NewFlagSet("gallerist "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.RegisterFlags(fs)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return cfg, nil, err
	}
	if err := cfg.Validate(); err != nil {
		return cfg, nil, fmt.Errorf("configuration: %w", err)
	}
	return cfg, fs, nil
}

func newLogger(cfg server.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openStorage opens the database and the blob store in the data folder.
func openStorage(ctx context.Context, cfg server.Config) (*storage.DB, *blob.Local, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, nil, fmt.Errorf("create data folder: %w", err)
	}
	db, err := storage.Open(ctx, storage.Config{Path: cfg.DatabasePath()})
	if err != nil {
		return nil, nil, err
	}
	blobs, err := blob.NewLocal(cfg.BlobDir())
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, blobs, nil
}

func runServe(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, _, err := loadConfig("serve", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	// A soft memory limit from the configuration, unless the operator set GOMEMLIMIT
	// (which the runtime has already applied).
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(cfg.MemoryLimit())
		log.Debug("memory limit set", "bytes", cfg.MemoryLimit())
	}
	db, blobs, err := openStorage(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if n, err := db.CountAdmins(ctx); err == nil && n == 0 {
		log.Warn("no admin account yet; create one with: gallerist admin create --email you@example.com --password-stdin " +
			"(and an API token with: gallerist token create --name cli --scopes admin)")
	}
	srv, err := server.New(cfg, server.Deps{DB: db, Blobs: blobs, Logger: log})
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, _, err := loadConfig("migrate", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	db, _, err := openStorage(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	versions, err := db.MigrationVersions(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database %s is at migration %s (%d applied)\n", cfg.DatabasePath(), versions[len(versions)-1], len(versions))
	return nil
}

func runOpenAPI(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gallerist openapi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "write to this file instead of standard output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	spec, err := server.Spec()
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = stdout.Write(spec)
		return err
	}
	return writeFileAtomic(*out, spec)
}

// writeFileAtomic replaces path with data through a synced temporary file.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(dirOf(path), ".openapi-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

func dirOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i+1]
	}
	return "."
}

func runToken(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("token: say create, list or revoke")
	}
	sub, args := args[0], args[1:]
	var name, scopes string
	var expires time.Duration
	cfg, fs, err := loadConfig("token "+sub, args, getenv, stderr, func(fs *flag.FlagSet) {
		if sub == "create" {
			fs.StringVar(&name, "name", "", "a name to recognise the token by (required)")
			fs.StringVar(&scopes, "scopes", "", "comma-separated scopes (required): "+strings.Join(scopeNames(), ","))
			fs.DurationVar(&expires, "expires", 0, "lifetime, like 720h; never expires when absent")
		}
	})
	if err != nil {
		return err
	}
	db, _, err := openStorage(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	switch sub {
	case "create":
		if strings.TrimSpace(name) == "" {
			return errors.New("token create: --name is required")
		}
		list, err := server.ParseScopes(scopes)
		if err != nil {
			return fmt.Errorf("token create: --scopes: %w", err)
		}
		var exp *time.Time
		if expires < 0 {
			return errors.New("token create: --expires must be positive")
		}
		if expires > 0 {
			t := time.Now().Add(expires).UTC()
			exp = &t
		}
		_, secret, err := server.CreateToken(ctx, db, strings.TrimSpace(name), list, exp)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, secret)
		return nil
	case "list":
		tokens, err := db.FindTokens(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tSCOPES\tCREATED\tEXPIRES\tLAST USED\tSTATE")
		for _, t := range tokens {
			state := "active"
			if t.RevokedAt != nil {
				state = "revoked"
			} else if t.ExpiresAt != nil && time.Now().After(*t.ExpiresAt) {
				state = "expired"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Prefix, strings.Join(t.Scopes, ","),
				t.CreatedAt.Format(time.RFC3339), fmtTime(t.ExpiresAt), fmtTime(t.LastUsedAt), state)
		}
		return tw.Flush()
	case "revoke":
		if fs.NArg() != 1 {
			return errors.New("token revoke: give the token ID (see gallerist token list)")
		}
		id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
		if err != nil {
			return fmt.Errorf("token revoke: %q is not a token ID", fs.Arg(0))
		}
		if err := db.RevokeToken(ctx, id); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("token revoke: no token %d", id)
			}
			return err
		}
		fmt.Fprintf(stdout, "token %d revoked\n", id)
		return nil
	}
	return fmt.Errorf("token: unknown subcommand %q (create, list, revoke)", sub)
}

func scopeNames() []string {
	var out []string
	for _, s := range server.Scopes {
		out = append(out, string(s))
	}
	return out
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func runAdmin(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("admin: the only subcommand is create")
	}
	var email string
	var fromStdin bool
	cfg, _, err := loadConfig("admin create", args[1:], getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&email, "email", "", "the admin's email (required)")
		fs.BoolVar(&fromStdin, "password-stdin", false, "read the password from standard input (required)")
	})
	if err != nil {
		return err
	}
	email = strings.TrimSpace(email)
	if !strings.Contains(email, "@") || len(email) > 254 {
		return errors.New("admin create: --email must be an email address")
	}
	if !fromStdin {
		return errors.New("admin create: pass --password-stdin and the password on standard input, so it stays out of your shell history")
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("admin create: read password: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if len(password) < 8 {
		return errors.New("admin create: the password must have at least 8 characters")
	}
	hash, err := server.HashPassword(password)
	if err != nil {
		return err
	}
	db, _, err := openStorage(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	a := &storage.Admin{Email: email, PasswordHash: hash}
	if err := db.CreateAdmin(ctx, a); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return fmt.Errorf("admin create: an admin with email %s exists", a.Email)
		}
		return err
	}
	fmt.Fprintf(stdout, "admin %s created (id %d)\n", a.Email, a.ID)
	return nil
}
