// Command builddata builds the vision and text task pools from the raw
// packages fetched by smallmodels/fetch.sh and writes them as gob caches:
//
//	go run ./smallmodels/cmd/builddata -raw smallmodels/raw -out smallmodels/cache
package main

import (
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"time"

	"enmplab/core/data"
	"enmplab/smallmodels/datasets"
)

func main() {
	raw := flag.String("raw", "smallmodels/raw", "directory filled by smallmodels/fetch.sh")
	out := flag.String("out", "smallmodels/cache", "output directory for vision.gob and text.gob")
	sheets := flag.String("png", "", "if set, also write an 8x8 contact sheet of each vision task's train split here")
	flag.Parse()
	for _, f := range []data.Family{data.Vision, data.Text} {
		t0 := time.Now()
		tasks, err := datasets.Build(f, *raw)
		if err != nil {
			fmt.Fprintln(os.Stderr, "builddata:", err)
			os.Exit(1)
		}
		path := filepath.Join(*out, string(f)+".gob")
		if err := datasets.SaveCache(path, tasks); err != nil {
			fmt.Fprintln(os.Stderr, "builddata:", err)
			os.Exit(1)
		}
		fmt.Printf("%s (%s, %.1fs):\n", f, path, time.Since(t0).Seconds())
		for _, t := range tasks {
			if *sheets != "" && f == data.Vision {
				if err := writeSheet(filepath.Join(*sheets, t.Name+".png"), t.Train); err != nil {
					fmt.Fprintln(os.Stderr, "builddata:", err)
					os.Exit(1)
				}
			}
			fmt.Printf("  %-15s classes=%-3d train=%-5d val=%-4d test=%-4d  %s\n",
				t.Name, len(t.Classes), t.Train.Len(), t.Val.Len(), t.Test.Len(), t.Source)
		}
	}
}

// writeSheet writes the first 64 samples of s as an 8x8 PNG grid (2x scale).
func writeSheet(path string, s data.Split) error {
	const n, sc, side = 8, 2, data.ImageSide
	img := image.NewRGBA(image.Rect(0, 0, n*(side+2)*sc, n*(side+2)*sc))
	for i := range img.Pix {
		img.Pix[i] = 128
	}
	size := data.SampleSize(data.Vision)
	for k := 0; k < n*n && k < s.Len(); k++ {
		x := s.Sample(k, size)
		ox, oy := (k%n)*(side+2)*sc+sc, (k/n)*(side+2)*sc+sc
		for y := 0; y < side*sc; y++ {
			for xx := 0; xx < side*sc; xx++ {
				p := (y/sc)*side + xx/sc
				img.Set(ox+xx, oy+y, color.RGBA{x[p], x[side*side+p], x[2*side*side+p], 255})
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
