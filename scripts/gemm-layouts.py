# fp32 GEMM time on the GPU in the layout planner calibrate times (both operands contiguous, NN)
# against the layouts the executor's Linear runs: forward x @ w.t() (w stored [out, in]), input
# gradient g @ w, weight gradient g.t() @ x. TF32 off, as in the executor. Shapes: the
# FeedForward 8192 x 28672 at 8192 tokens and the 1.3B Llama's at 4096 tokens (scripts/gpu-check.sh).
#   python3 scripts/gemm-layouts.py      (on a machine with a CUDA PyTorch)
import torch,time,json
torch.backends.cuda.matmul.allow_tf32=False
def tm(f,n=10):
    for _ in range(3): f()
    torch.cuda.synchronize(); s=time.perf_counter()
    for _ in range(n): f()
    torch.cuda.synchronize(); return (time.perf_counter()-s)/n
res=[]
for name,T,d,f in [('ff',8192,8192,28672),('mha-ffn',4096,2048,8192),('mha-attn',4096,2048,2048),('mha-head',4096,2048,128256)]:
    x=torch.randn(T,d,device='cuda'); w=torch.randn(f,d,device='cuda'); g=torch.randn(T,f,device='cuda')
    wt=w.t().contiguous(); gt=g.t().contiguous()
    fl=2.0*T*d*f
    r={'shape':name,'T':T,'in':d,'out':f}
    r['calibrate_NN_x@wT']=tm(lambda: torch.mm(x,wt))
    r['fwd_x@w.t()']=tm(lambda: torch.mm(x,w.t()))
    r['dgrad_g@w']=tm(lambda: torch.mm(g,w))
    r['dgrad_calibrate_NN_g[T,out]@w[out,in]']=r['dgrad_g@w']
    r['wgrad_g.t()@x']=tm(lambda: torch.mm(g.t(),x))
    r['wgrad_calibrate_NN']=tm(lambda: torch.mm(gt,x))
    for k in list(r):
        if isinstance(r[k],float): r[k]={'ms':round(r[k]*1e3,3),'tflops':round(fl/r[k]/1e12,2)}
    res.append(r); print(json.dumps(r)); del x,w,g,wt,gt; torch.cuda.empty_cache()
