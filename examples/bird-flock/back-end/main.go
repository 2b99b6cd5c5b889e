// Command birds serves one random bird as JSON on every GET.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
)

type bird struct {
	Name        string `json:"name"`
	Image       string `json:"image"`
	Description string `json:"description"`
}

func main() {
	addr := flag.String("addr", ":8080", "listen address")
	file := flag.String("birds", "birds.json", "list of birds")
	flag.Parse()
	data, err := os.ReadFile(*file)
	if err != nil {
		log.Fatal(err)
	}
	var birds []bird
	if err := json.Unmarshal(data, &birds); err != nil || len(birds) == 0 {
		log.Fatalf("%s: no birds: %v", *file, err)
	}
	log.Printf("serving %d birds on %s", len(birds), *addr)
	log.Fatal(http.ListenAndServe(*addr, handler(birds)))
}

func handler(birds []bird) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Methods", "GET, OPTIONS")
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if r.Method != http.MethodGet {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(birds[rand.IntN(len(birds))])
	})
}
