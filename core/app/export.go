package app

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"enmplab/core/bundle"
	"enmplab/core/enmp"
	"enmplab/core/eval"
	"enmplab/core/nn"
	"enmplab/core/search"
	"enmplab/core/shard"
)

// MaskExport is the best mask as a file: the grid (layers x tasks, 1 =
// pruned) and the reference implementation's flattened list.
type MaskExport struct {
	Format  string   `json:"format"`
	Family  string   `json:"family"`
	Method  string   `json:"method"`
	Layers  int      `json:"layers"`
	Tasks   []string `json:"tasks"`
	Projs   int      `json:"projections,omitempty"` // 0: (layer, task) modules
	Grid    [][]int  `json:"grid"`                  // [layer][task], 1 = pruned (any projection)
	Indices []int    `json:"indices"`               // index = layer*T + task (layer*T*P + task*P + proj with projections)
	Pruned  int      `json:"pruned"`
	Lambda  float64  `json:"lambda"`
	Fitness float64  `json:"fitness"` // gain in mean normalised validation accuracy over the unpruned merge
	Key     string   `json:"key"`     // search.Mask.Key()
}

// MaskJSON exports a report's best mask.
func MaskJSON(r *enmp.Report) ([]byte, error) {
	if r == nil {
		return nil, errors.New("export: no finished search yet")
	}
	m := r.Mask
	e := MaskExport{Format: "enmp-lab-mask/1", Family: r.Family, Method: r.Config.Method, Layers: m.Layers, Tasks: r.Tasks,
		Projs: m.Projs, Indices: m.Indices(), Pruned: m.Count(), Lambda: r.BestLambda, Fitness: r.BestFitness, Key: m.Key()}
	if e.Indices == nil {
		e.Indices = []int{}
	}
	for l := 0; l < m.Layers; l++ {
		row := make([]int, m.Tasks)
		for t := range row {
			if modulePruned(m, l, t) {
				row[t] = 1
			}
		}
		e.Grid = append(e.Grid, row)
	}
	return json.MarshalIndent(e, "", "  ")
}

// LogRow is one candidate of one generation in the run log.
type LogRow struct {
	Gen        int       `json:"gen"`
	Index      int       `json:"index"`
	Evals      int       `json:"evals"` // evaluations up to and including this generation
	Fitness    float64   `json:"fitness"`
	Lambda     float64   `json:"lambda"`
	Pruned     int       `json:"pruned"`
	Indices    []int     `json:"indices"`
	Normalised []float64 `json:"normalised"` // per task, % of the expert
	Best       bool      `json:"best_so_far"`
	Mask       string    `json:"mask"`
}

// RunLog lists every candidate of every generation.
func RunLog(gens []Gen) []LogRow {
	var out []LogRow
	for _, g := range gens {
		for _, r := range g.Results {
			idx := r.Mask.Indices()
			if idx == nil {
				idx = []int{}
			}
			out = append(out, LogRow{Gen: g.Gen, Index: r.Index, Evals: g.Evals, Fitness: r.Fitness, Lambda: r.Lambda,
				Pruned: r.Mask.Count(), Indices: idx, Normalised: r.PerTask, Mask: r.Mask.Key(),
				Best: r.Mask.Equal(g.Best.Mask) && r.Fitness == g.Best.Fitness})
		}
	}
	return out
}

// RunLogJSON is the run log with the settings and task names.
func RunLogJSON(st State, info Info, gens []Gen) ([]byte, error) {
	rows := RunLog(gens)
	if rows == nil {
		rows = []LogRow{}
	}
	return json.MarshalIndent(struct {
		Format     string   `json:"format"`
		Hash       string   `json:"settings"`
		Tasks      []string `json:"tasks"`
		Layers     int      `json:"layers"`
		Baseline   float64  `json:"baseline_mean_val"`
		Candidates []LogRow `json:"candidates"`
	}{"enmp-lab-runlog/1", st.Hash(), info.Tasks, info.Layers, info.Baseline.Mean, rows}, "", "  ")
}

// RunLogCSV is the run log as CSV: one row per candidate, the pruned
// indices separated by spaces, one normalised-accuracy column per task.
func RunLogCSV(info Info, gens []Gen) ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	head := []string{"gen", "index", "evals", "fitness", "lambda", "pruned", "indices", "best_so_far", "mask"}
	for _, t := range info.Tasks {
		head = append(head, "norm_"+t)
	}
	if err := w.Write(head); err != nil {
		return nil, err
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for _, r := range RunLog(gens) {
		idx := make([]string, len(r.Indices))
		for i, v := range r.Indices {
			idx[i] = strconv.Itoa(v)
		}
		row := []string{strconv.Itoa(r.Gen), strconv.Itoa(r.Index), strconv.Itoa(r.Evals), f(r.Fitness), f(r.Lambda),
			strconv.Itoa(r.Pruned), strings.Join(idx, " "), strconv.FormatBool(r.Best), r.Mask}
		for _, v := range r.Normalised {
			row = append(row, f(v))
		}
		if err := w.Write(row); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return b.Bytes(), w.Error()
}

// MergedAdapter writes the merged model of mask m (scale lambda; 0: the
// evaluator's) as a PEFT LoRA adapter: for every layer and attention
// projection, lora_A = I and lora_B = lambda*Phi ([Width x Width], rank =
// Width, lora_alpha = r so the scaling is 1), so that W0 + B A is exactly
// the weight the evaluator scores. Returns adapter_model.safetensors and
// adapter_config.json.
func MergedAdapter(ev *eval.Evaluator, f *bundle.Family, m search.Mask, lambda float64) (model, config []byte, err error) {
	if ev == nil || f == nil {
		return nil, nil, errors.New("export: no family loaded")
	}
	if lambda == 0 {
		lambda = ev.Lambda()
	}
	d := f.Config.Width
	eye := make([]float32, d*d)
	for i := 0; i < d; i++ {
		eye[i*d+i] = 1
	}
	file := &shard.File{Metadata: map[string]string{"format": "pt", "enmp_family": string(f.Config.Family),
		"enmp_method": ev.Method().Name(), "enmp_lambda": strconv.FormatFloat(lambda, 'g', -1, 64), "enmp_mask": m.Key()}}
	lam := float32(lambda)
	for l := 0; l < f.Config.Layers; l++ {
		phis, err := ev.Phi(m, l)
		if err != nil {
			return nil, nil, fmt.Errorf("export: %v", err)
		}
		for p, phi := range phis {
			b := make([]float32, len(phi))
			for i, v := range phi {
				b[i] = lam * v
			}
			file.Tensors = append(file.Tensors,
				shard.FromF32(loraTensor(l, p, "A"), []int{d, d}, eye),
				shard.FromF32(loraTensor(l, p, "B"), []int{d, d}, b))
		}
	}
	if model, err = shard.Encode(file); err != nil {
		return nil, nil, err
	}
	var targets []string
	for _, p := range nn.Projections {
		targets = append(targets, p+"_proj")
	}
	ac := &shard.AdapterConfig{PEFTType: "LORA", BaseModelNameOrPath: "enmp-lab/" + string(f.Config.Family) + "-backbone",
		InferenceMode: true, R: d, LoRAAlpha: float64(d), TargetModules: targets, Bias: "none",
		ModulesToSave: []string{}, RankPattern: map[string]int{}, AlphaPattern: map[string]float64{}}
	if config, err = ac.Marshal(); err != nil {
		return nil, nil, err
	}
	return model, config, nil
}

// loraTensor is PEFT's tensor name for factor A or B of projection p at layer l.
func loraTensor(l, p int, factor string) string {
	return fmt.Sprintf("base_model.model.blocks.%d.%s.lora_%s.weight", l, nn.ModulePath(nn.Projections[p]), factor)
}
