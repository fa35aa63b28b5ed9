package main

import (
	"database/sql"
	"fmt"
	"os"
	"time"

	_ "modernc.org/sqlite"
)

func main() {
	db, err := sql.Open("sqlite", "file:"+os.Args[1]+"?mode=ro")
	if err != nil {
		panic(err)
	}
	for _, q := range os.Args[2:] {
		rows, err := db.Query("EXPLAIN QUERY PLAN " + q)
		if err != nil {
			panic(err)
		}
		for rows.Next() {
			var a, b, c int
			var d string
			rows.Scan(&a, &b, &c, &d)
			fmt.Println("  plan:", d)
		}
		rows.Close()
		for i := 0; i < 3; i++ {
			t := time.Now()
			rows, err := db.Query(q)
			if err != nil {
				panic(err)
			}
			n := 0
			for rows.Next() {
				n++
			}
			rows.Close()
			fmt.Printf("  %d rows in %v\n", n, time.Since(t))
		}
	}
}
