-- Sample lessons for the embedded default; lessons already there are left as they are.
insert into scoreboard.lessons (lesson_id, title, points) values
    ('greetings-1', 'Greetings and introductions', 10),
    ('greetings-2', 'Small talk', 15),
    ('present-simple', 'The present simple', 20),
    ('past-simple', 'The past simple', 20),
    ('phrasal-verbs-1', 'Phrasal verbs with "get"', 25),
    ('travel-1', 'At the airport', 15),
    ('travel-2', 'Booking a hotel', 15),
    ('food-1', 'Ordering in a restaurant', 10),
    ('work-1', 'Writing a short email', 30),
    ('idioms-1', 'Everyday idioms', 35)
on conflict do nothing;
