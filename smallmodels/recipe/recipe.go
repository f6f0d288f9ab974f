// Package recipe trains a family's shipped models from its task pools:
// pretrain the backbone, freeze it, then fit one LoRA expert with its head
// and one linear probe per task, and measure the task-arithmetic merge.
// Every step is seeded; the same pools and config give the same bytes.
package recipe

import (
	"fmt"
	"time"

	"enmplab/core/bundle"
	"enmplab/core/data"
	"enmplab/core/nn"
	"enmplab/core/shard"
	"enmplab/core/train"
)

// Config is one family's training recipe.
type Config struct {
	Model    nn.Config
	Seed     uint64
	Pretrain train.Options
	Expert   train.Options
	Probe    train.Options
	// TrainCap limits the training samples used per task (0 = all).
	TrainCap int
	// Lambdas is the grid for the task-arithmetic scaling, chosen on validation.
	Lambdas []float64
}

// Default is the recipe of the committed shards.
func Default(f data.Family) Config {
	return Config{
		Model:    nn.DefaultConfig(f),
		Seed:     1,
		Pretrain: train.Options{Epochs: 3, Batch: 64, LR: 2e-3, LogEvery: 100},
		Expert:   train.Options{Epochs: 4, Batch: 32, LR: 3e-3, LogEvery: 200},
		Probe:    train.Options{Epochs: 30, Batch: 64, LR: 1e-2},
		Lambdas:  []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5},
	}
}

// Small is a fast configuration for tests: a narrow model, few steps.
func Small(f data.Family) Config {
	c := Default(f)
	c.Model.Width, c.Model.Heads, c.Model.MLP, c.Model.Layers = 8, 2, 16, 2
	if f == data.Text {
		c.Model.ByteEmbed = 4
		c.Model.PatchDim = c.Model.PatchSize * 4
	}
	c.Pretrain = train.Options{Epochs: 1, Batch: 16, LR: 2e-3, MaxSteps: 6}
	c.Expert = train.Options{Epochs: 1, Batch: 16, LR: 3e-3, MaxSteps: 4}
	c.Probe = train.Options{Epochs: 2, Batch: 16, LR: 1e-2}
	c.TrainCap = 64
	c.Lambdas = []float64{0.5, 1}
	return c
}

// Accuracy pairs a validation and a test accuracy.
type Accuracy struct{ Val, Test float64 }

// Expert is one task's trained LoRA and head.
type Expert struct {
	Task  string
	LoRA  *nn.LoRA
	Head  *nn.Head
	Acc   Accuracy
	Probe Accuracy // linear probe on the frozen backbone
	Merge Accuracy // this task under the task-arithmetic merge of all experts
}

// Result is everything a recipe run produces.
type Result struct {
	Config       Config
	Backbone     *nn.Backbone
	Experts      []Expert
	MergeLambda  float64
	PretrainLoss float64
}

// Run executes the recipe on the family's tasks; log (may be nil) gets progress lines.
func Run(f data.Family, tasks []data.Task, c Config, log func(string)) (*Result, error) {
	if log == nil {
		log = func(string) {}
	}
	if err := c.Model.Validate(); err != nil {
		return nil, err
	}
	if c.Model.Family != f {
		return nil, fmt.Errorf("recipe: model family %s, tasks of %s", c.Model.Family, f)
	}
	for i := range tasks {
		if err := tasks[i].Validate(f); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	size := data.SampleSize(f)
	m, err := nn.InitBackbone(c.Model, c.Seed)
	if err != nil {
		return nil, err
	}
	// Pretraining set: every task's training split, labelled by its source.
	var set train.Labelled
	set.Labels = [][]int32{nil, nil}
	for ti, t := range tasks {
		tr := t.Train.Head(c.TrainCap, size)
		set.X = append(set.X, tr.X...)
		for range tr.Y {
			set.Labels[0] = append(set.Labels[0], int32(ti))
			set.Labels[1] = append(set.Labels[1], 0)
		}
	}
	set.N = len(set.Labels[0])
	heads := []*nn.Head{nn.NewHead(len(tasks), c.Model.Width), nn.NewHead(Transforms, c.Model.Width)}
	po := c.Pretrain
	po.Seed = c.Seed
	po.Log = func(step, total int, loss float64) {
		log(fmt.Sprintf("pretrain %s step %d/%d loss %.3f (%.0fs)", f, step, total, loss, time.Since(start).Seconds()))
	}
	res := &Result{Config: c, Backbone: m}
	res.PretrainLoss, err = train.Backbone(m, heads, set, pretrainAugment(f), po)
	if err != nil {
		return nil, err
	}
	log(fmt.Sprintf("pretrain %s done: loss %.3f (%.0fs)", f, res.PretrainLoss, time.Since(start).Seconds()))

	for ti, t := range tasks {
		tr := t.Train.Head(c.TrainCap, size)
		lo := nn.NewLoRA(c.Model, c.Seed*1000+uint64(ti))
		head := nn.NewHead(len(t.Classes), c.Model.Width)
		eo := c.Expert
		eo.Seed = c.Seed*1000 + uint64(ti)
		eo.Log = func(step, total int, loss float64) {
			log(fmt.Sprintf("expert %s/%s step %d/%d loss %.3f (%.0fs)", f, t.Name, step, total, loss, time.Since(start).Seconds()))
		}
		if _, err := train.LoRA(m, lo, head, tr, eo); err != nil {
			return nil, fmt.Errorf("expert %s: %w", t.Name, err)
		}
		em := lo.Apply(m, 1)
		e := Expert{Task: t.Name, LoRA: lo, Head: head,
			Acc: Accuracy{train.Accuracy(em, head, t.Val), train.Accuracy(em, head, t.Test)}}
		// Linear probe: a head alone on the frozen backbone's features.
		probe := nn.NewHead(len(t.Classes), c.Model.Width)
		po := c.Probe
		po.Seed = c.Seed*1000 + uint64(ti)
		if _, err := train.Head(probe, train.Features(m, tr), tr.Y, c.Model.Width, po); err != nil {
			return nil, err
		}
		e.Probe = Accuracy{train.Accuracy(m, probe, t.Val), train.Accuracy(m, probe, t.Test)}
		log(fmt.Sprintf("expert %s/%s: val %.3f test %.3f, probe val %.3f test %.3f (%.0fs)",
			f, t.Name, e.Acc.Val, e.Acc.Test, e.Probe.Val, e.Probe.Test, time.Since(start).Seconds()))
		res.Experts = append(res.Experts, e)
	}

	// Task arithmetic: W0 + lambda * sum_t Delta W_t, lambda chosen on validation.
	best := -1.0
	for _, lambda := range c.Lambdas {
		merged := TaskArithmetic(m, res.Experts, lambda)
		score := 0.0
		for ti, t := range tasks {
			score += Normalised(train.Accuracy(merged, res.Experts[ti].Head, t.Val), res.Experts[ti].Acc.Val)
		}
		score /= float64(len(tasks))
		log(fmt.Sprintf("task arithmetic %s lambda %.2f: normalised val %.1f", f, lambda, score))
		if score > best {
			best, res.MergeLambda = score, lambda
		}
	}
	merged := TaskArithmetic(m, res.Experts, res.MergeLambda)
	for ti, t := range tasks {
		res.Experts[ti].Merge = Accuracy{train.Accuracy(merged, res.Experts[ti].Head, t.Val), train.Accuracy(merged, res.Experts[ti].Head, t.Test)}
	}
	return res, nil
}

// TaskArithmetic returns W0 + lambda * sum_t Delta W_t on every adapted matrix.
func TaskArithmetic(m *nn.Backbone, experts []Expert, lambda float64) *nn.Backbone {
	out := m.ShallowCopy()
	d := m.Cfg.Width
	for l := range out.Blocks {
		for p := range nn.Projections {
			w := append([]float32(nil), m.Blocks[l].Proj(p)...)
			for _, e := range experts {
				nn.AddDelta(w, e.LoRA.A[l][p], e.LoRA.B[l][p], e.LoRA.Rank, d, d, float32(lambda)*e.LoRA.Scale())
			}
			out.Blocks[l].SetProj(p, w)
		}
	}
	return out
}

// Normalised is acc / expert * 100 (0 when the expert scores 0).
func Normalised(acc, expert float64) float64 {
	if expert == 0 {
		return 0
	}
	return acc / expert * 100
}

// Bundle packages a result with its tasks' validation and test data and the
// provenance of the data, ready for bundle.WriteDir.
func (r *Result) Bundle(f data.Family, tasks []data.Task, prov []shard.Provenance) *bundle.Family {
	m := &shard.Manifest{MergeLambda: r.MergeLambda, Provenance: prov, Recipe: map[string]string{
		"seed":          fmt.Sprint(r.Config.Seed),
		"pretrain":      fmt.Sprintf("epochs=%d batch=%d lr=%g, objectives: source pool + %d-way self-supervised transform, training splits only", r.Config.Pretrain.Epochs, r.Config.Pretrain.Batch, r.Config.Pretrain.LR, Transforms),
		"expert":        fmt.Sprintf("epochs=%d batch=%d lr=%g, LoRA on q,k,v,o plus head, backbone frozen", r.Config.Expert.Epochs, r.Config.Expert.Batch, r.Config.Expert.LR),
		"probe":         fmt.Sprintf("epochs=%d batch=%d lr=%g, head on frozen backbone features", r.Config.Probe.Epochs, r.Config.Probe.Batch, r.Config.Probe.LR),
		"train_cap":     fmt.Sprint(r.Config.TrainCap),
		"merge":         "task arithmetic, lambda chosen on validation (normalised accuracy)",
		"pretrain_loss": fmt.Sprintf("%.4f", r.PretrainLoss),
		"command":       "./build.sh shards",
	}}
	fam := &bundle.Family{Manifest: m, Config: r.Config.Model, Backbone: r.Backbone}
	for i, t := range tasks {
		e := r.Experts[i]
		merged := shard.Accuracy{Val: e.Merge.Val, Test: e.Merge.Test}
		m.Tasks = append(m.Tasks, shard.Task{Name: t.Name, Classes: t.Classes, Source: t.Source,
			NTrain: t.Train.Head(r.Config.TrainCap, data.SampleSize(f)).Len(), NVal: t.Val.Len(), NTest: t.Test.Len(),
			Expert: shard.Accuracy{Val: e.Acc.Val, Test: e.Acc.Test}, LinearProbe: shard.Accuracy{Val: e.Probe.Val, Test: e.Probe.Test},
			Merged: &merged})
		fam.Tasks = append(fam.Tasks, data.Task{Name: t.Name, Classes: t.Classes, Source: t.Source, Val: t.Val, Test: t.Test})
		fam.Experts = append(fam.Experts, e.LoRA)
		fam.Heads = append(fam.Heads, e.Head)
	}
	return fam
}
