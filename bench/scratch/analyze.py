import json,sys,collections
prof=json.load(open(sys.argv[1])); t0=int(sys.argv[2]); t1=int(sys.argv[3])
nodes={n['id']:n for n in prof['nodes']}
parent={}
for n in prof['nodes']:
    for c in n.get('children',[]): parent[c]=n['id']
t=prof['startTime']; self_=collections.Counter(); total=collections.Counter(); cnt=0
for sid,dt in zip(prof['samples'],prof['timeDeltas']):
    t+=dt
    if t<t0 or t>t1: continue
    cnt+=1
    n=nodes[sid]; cf=n['callFrame']
    key=lambda n:(n['callFrame']['functionName'] or '(anon)')+' '+n['callFrame']['url'].split('/')[-1]+':'+str(n['callFrame']['lineNumber'])
    self_[key(n)]+=1
    seen=set(); x=sid
    while x in nodes:
        k=key(nodes[x])
        if k not in seen: total[k]+=1; seen.add(k)
        x=parent.get(x)
        if x is None: break
print('samples',cnt)
print('--- self'); [print(v,k) for k,v in self_.most_common(40)]
print('--- total'); [print(v,k) for k,v in total.most_common(90)]
