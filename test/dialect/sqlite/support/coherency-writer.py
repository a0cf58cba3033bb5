"""The foreign writer of the coherency test: updates the keys it owns with growing versions,
reads random keys, and logs each commit's wall-clock time once commit() has returned."""
import json, random, sqlite3, sys, time

file, owner, owners, keys, seconds, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
db = sqlite3.connect(file, timeout=30)
own = list(range(owner, keys, owners))
version = {k: 0 for k in own}
acks, failures = [], 0
end = time.time() + seconds
while time.time() < end:
    try:
        if random.random() < 0.5:
            k = random.choice(own)
            version[k] += 1
            db.execute("update shared_kv set version = ?, writer = 'py' where id = ?", (version[k], k))
            db.commit()
            acks += [k, version[k], time.time() * 1000]
        else:
            db.execute("select version from shared_kv where id = ?", (random.randrange(keys),)).fetchone()
    except sqlite3.OperationalError:
        failures += 1
        db.rollback()
    time.sleep(random.random() * 0.004)
json.dump({"acks": acks, "failures": failures}, open(out, "w"))
